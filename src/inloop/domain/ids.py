"""Identifiers that sort by creation time (ULID layout: 48-bit milliseconds, 80 random bits)."""

from __future__ import annotations

import os
import threading
from datetime import datetime

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case
_CHUNK = 10  # bytes: the 80 random bits of an id
_BUFFER = 4000  # bytes read from the OS at a time: 400 ids


class _Randomness:
    """Random bytes from ``os.urandom``, read 400 ids' worth at a time: each read is a
    system call (tens of microseconds in a VM), and a run and its requests take several
    ids. A forked child starts with nothing, so it never repeats its parent's bytes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bytes = b""
        self._at = 0

    def bits80(self) -> int:
        with self._lock:
            if self._at + _CHUNK > len(self._bytes):
                self._bytes, self._at = os.urandom(_BUFFER), 0
            chunk = self._bytes[self._at : self._at + _CHUNK]
            self._at += _CHUNK
        return int.from_bytes(chunk, "big")

    def forget(self) -> None:
        self._bytes, self._at = b"", 0
        self._lock = threading.Lock()


_RANDOM = _Randomness()
os.register_at_fork(after_in_child=_RANDOM.forget)


def new_id(prefix: str, now: datetime) -> str:
    value = (int(now.timestamp() * 1000) << 80) | _RANDOM.bits80()
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"
