"""Secrets the server must be able to read back, sealed at rest with a key of its own.

An HMAC key's secret cannot be kept as a digest like a password or a bearer key's
secret: verifying a signature needs the secret itself. The store keeps it sealed with
AES-256-GCM under the server's sealing key, bound to the key id (the associated data),
so a copy of the store alone reveals no secret, and a sealed secret moved to another key
id does not open.

The sealing key is 32 random bytes in a file only its owner can read: the data
directory's `sealing.key` for `exchange run`, the file named by `EXCHANGE_SEALING_KEY_FILE`
(default `.exchange/NAMESPACE.sealing.key`) for the processes of a cluster, which must
all read the same file. It is made on first use; losing it makes the HMAC keys sealed
with it unusable (their owners make new ones), nothing else.
"""

import contextlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
_NONCE_BYTES = 12


class SealError(ValueError):
    """A sealed secret that does not open with this key and context."""


class Sealer:
    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"a sealing key is {KEY_BYTES} bytes, got {len(key)}")
        self._aead = AESGCM(key)

    @classmethod
    def from_file(cls, path: Path) -> "Sealer":
        """Read the key in `path`, making it (readable by its owner only) if missing."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written whole to a file of its own, then linked under the name: of processes
            # starting at once (a cluster's gateways), one key wins and none reads a part.
            draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
            fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(secrets.token_bytes(KEY_BYTES))
                    out.flush()
                    os.fsync(out.fileno())
                with contextlib.suppress(FileExistsError):
                    os.link(draft, path)
            finally:
                draft.unlink()
        return cls(path.read_bytes())

    def seal(self, secret: bytes, context: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, secret, context)

    def open(self, sealed: bytes, context: bytes) -> bytes:
        try:
            return self._aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], context)
        except (InvalidTag, ValueError) as error:
            raise SealError("the sealed secret does not open with this key") from error
