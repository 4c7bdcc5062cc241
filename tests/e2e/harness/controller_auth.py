"""The controller API's request signature (crates/skiff-controller/src/auth.rs), written again
from its description so the harness can ask a secured controller for its status, and so the
scheme is checked by a second implementation.

`Authorization: Skiff-HMAC-SHA256 ts=<unix ms>,nonce=<32 hex>,sig=<hex HMAC-SHA256>` over
"skiff-controller-v1\\n<METHOD>\\n<path?query>\\n<ts>\\n<nonce>\\n" followed by the body, keyed
with the secret file's bytes without surrounding whitespace.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path


def write_secret(path: Path) -> Path:
    """A fresh random secret in a file only its owner reads, as `openssl rand -hex 32` would make."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    return path


def read_secret(path: Path) -> bytes:
    return path.read_bytes().strip(b" \t\r\n\f\v")


def authorization(secret: bytes, method: str, path_and_query: str, body: bytes = b"") -> str:
    ts = int(time.time() * 1000)
    nonce = secrets.token_hex(16)
    message = f"skiff-controller-v1\n{method}\n{path_and_query}\n{ts}\n{nonce}\n".encode() + body
    sig = hmac.new(secret, message, hashlib.sha256).hexdigest()
    return f"Skiff-HMAC-SHA256 ts={ts},nonce={nonce},sig={sig}"
