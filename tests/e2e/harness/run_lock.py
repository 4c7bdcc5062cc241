"""Lets tests marked `exclusive` run alone when pytest-xdist runs several tests at once.

Every test holds a shared lock on one file per run while it runs; an exclusive test holds it
exclusively, so it starts once the tests running on other workers finish, and none start until it
ends. A second file is a turnstile: a waiting exclusive test holds it, so the other workers cannot
keep re-taking the shared lock between their tests and starve it.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _lock_dir() -> Path | None:
    # Set by pytest-xdist in every worker, the same for all workers of one run.
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run_id:
        return None
    directory = Path(tempfile.gettempdir()) / f"skiff-e2e-{run_id}"
    directory.mkdir(exist_ok=True)
    return directory


@contextmanager
def held(exclusive: bool) -> Iterator[None]:
    directory = _lock_dir()
    if directory is None:
        yield
        return
    with open(directory / "turnstile", "a") as turnstile, open(directory / "run", "a") as run:
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        try:
            fcntl.flock(run, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        finally:
            fcntl.flock(turnstile, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(run, fcntl.LOCK_UN)
