"""Waiting on a condition with a deadline, so no test ever synchronises by sleeping and hoping."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class DeadlineExceeded(AssertionError):
    """The awaited condition did not hold in time (an AssertionError, so pytest reports it as a failure)."""


def wait_until(
    probe: Callable[[], T | None],
    timeout_s: float,
    what: str,
    interval_s: float = 0.1,
) -> T:
    """Calls `probe` until it returns something truthy and returns that; fails after `timeout_s`.

    `what` completes the sentence "timed out after N s waiting for ..." in the failure message.
    """
    deadline = time.monotonic() + timeout_s
    last = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise DeadlineExceeded(f"timed out after {timeout_s:.0f} s waiting for {what} (last: {last!r})")
        time.sleep(interval_s)
