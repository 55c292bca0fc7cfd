"""The server key: encrypts channel secrets at rest and signs answer links.

Where it comes from, first found wins:

1. ``INLOOP_SECRET_KEY``: one key, or several separated by commas (the first encrypts,
   all decrypt: rotate by putting a new key first). Every replica must have the same.
2. ``INLOOP_SECRET_KEY_FILE``: a file holding that value.
3. ``secret-key`` beside the SQLite database (or in ``$INLOOP_HOME``, ``.inloop`` by
   default, for PostgreSQL), generated on first use with mode 0600, like ``admin-token``.

A key is any string of 32 characters or more; Fernet and HMAC keys are derived from it
with HKDF, one per purpose, so a leaked link key reveals nothing of the encryption key.
"""

from __future__ import annotations

import base64
import os
import secrets
import threading
from pathlib import Path
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.engine import make_url

MIN_KEY = 32


class SecretKeyError(RuntimeError):
    """The server key is missing, too short, or does not open what was stored with it."""


def default_key_file(database_url: str) -> Path:
    """``secret-key`` beside the SQLite file, else in ``$INLOOP_HOME`` (or ``.inloop``)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).parent / "secret-key"
    return Path(os.environ.get("INLOOP_HOME") or ".inloop") / "secret-key"


class Keyring:
    """Encrypts and decrypts small JSON values; derives signing keys. Loads lazily, so a
    server that stores no secret never creates a key file."""

    def __init__(self, key: str | None = None, *, key_file: Path | None = None) -> None:
        self._given = key
        self._file = key_file
        self._keys: list[bytes] | None = None
        self._lock = threading.Lock()

    def _load(self) -> list[bytes]:
        with self._lock:
            if self._keys is None:
                raw = self._given if self._given is not None else self._read_or_create()
                keys = [k.strip() for k in raw.split(",") if k.strip()]
                if not keys or any(len(k) < MIN_KEY for k in keys):
                    raise SecretKeyError(
                        f"INLOOP_SECRET_KEY must be at least {MIN_KEY} characters (each key, "
                        "when several are separated by commas)"
                    )
                self._keys = [k.encode() for k in keys]
            return self._keys

    def _read_or_create(self) -> str:
        if self._file is None:
            raise SecretKeyError("no server key: set INLOOP_SECRET_KEY")
        if self._file.is_file():
            return self._file.read_text().strip()
        self._file.parent.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(48)
        # Created exclusively with mode 0600: a second process racing us reads ours.
        try:
            fd = os.open(self._file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return self._file.read_text().strip()
        with os.fdopen(fd, "w") as out:
            out.write(value + "\n")
        return value

    def derive(self, purpose: str, key: bytes | None = None) -> bytes:
        """32 bytes for ``purpose`` (from the first key unless ``key`` is given)."""
        material = key if key is not None else self._load()[0]
        return HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=f"inloop:{purpose}".encode()
        ).derive(material)

    def _fernet(self) -> MultiFernet:
        return MultiFernet(
            [Fernet(base64.urlsafe_b64encode(self.derive("secrets", k))) for k in self._load()]
        )

    def seal(self, value: Any) -> str:
        return self._fernet().encrypt(orjson.dumps(value)).decode()

    def open(self, token: str) -> Any:
        try:
            return orjson.loads(self._fernet().decrypt(token.encode()))
        except InvalidToken:
            raise SecretKeyError(
                "stored secrets do not open with the server key: was INLOOP_SECRET_KEY "
                "changed without keeping the old key after the new one?"
            ) from None

    def signing_keys(self, purpose: str) -> list[bytes]:
        """The keys that may have signed something for ``purpose``: the first signs now."""
        return [self.derive(purpose, k) for k in self._load()]
