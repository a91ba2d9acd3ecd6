"""Personal data encrypted at rest (数据加密, issue 18 point 1, R-CONFIDENTIAL).

身份证号, phone numbers and addresses are stored as ``v1:<key id>:<base64>``:
AES-256-GCM (``cryptography``'s AESGCM) with a random 96-bit nonce; the
column's name is the associated data, so a value moved to another column is
refused like a tampered one. Beside the ID number, ``id_number_hmac`` holds an
HMAC-SHA256 of it under a second key, for the UNIQUE index and for lookups.

Both keys are derived with HKDF from one 32-byte data key (PAICHA_DATA_KEY or
DATA_DIR/data.key, see ``bot/crypto_cli.py``). A keyring holds the current key
and older ones by id: values under an older key still read, and ``paicha
rotate-key`` re-encrypts them under the current one. A value without the
``v1:`` prefix is legacy plaintext (a database from before encryption) and
reads as it is until the bot or rotate-key encrypts it.

Every process that opens the database installs the keyring first
(``install``): the bot, the scheduler, the workbook workers, the CLI and the
tests. With none installed, writing a personal value raises and reading a
ciphertext raises: nothing is ever stored in clear or shown as ciphertext by
mistake.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Text
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.types import TypeDecorator

VERSION = "v1"
PREFIX = VERSION + ":"
KEY_BYTES = 32
NONCE_BYTES = 12
KEY_ID_CHARS = 8  # hex
# "v1:" + key id + ":": what every value under one key starts with.
HEADER_CHARS = len(PREFIX) + KEY_ID_CHARS + 1


class CryptoError(Exception):
    """A value cannot be read or written: no key, a wrong key, or tampering."""


class NoKeyring(CryptoError):
    pass


class UnknownKey(CryptoError):
    pass


class Tampered(CryptoError):
    pass


def _derive(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)


def key_id(key: bytes) -> str:
    """A short public name of a key, derived from it (so the same key always
    has the same id, and a wrong key a different one)."""
    return _derive(key, b"paicha key id v1").hex()[:KEY_ID_CHARS]


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


def decode_key(text: str) -> bytes:
    """A base64 key of 32 bytes, or ValueError saying what is wrong."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"{len(key)} bytes, not {KEY_BYTES}")
    return key


class _Key:
    __slots__ = ("aead", "id", "mac")

    def __init__(self, key: bytes) -> None:
        self.id = key_id(key)
        self.aead = AESGCM(_derive(key, b"paicha encryption v1"))
        # Keyed once; each HMAC starts from a copy (half the cost of a new one).
        self.mac = hmac.new(_derive(key, b"paicha id hmac v1"), digestmod=hashlib.sha256)


class Keyring:
    """The current key (first) and older ones. Picklable as its raw keys, so
    a worker process gets the same ring (reports/pool.py)."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("a keyring needs at least one key")
        for key in keys:
            if len(key) != KEY_BYTES:
                raise ValueError(f"a data key has {KEY_BYTES} bytes")
        self._raw = tuple(dict.fromkeys(keys))  # the current first, no repeats
        self._keys = [_Key(k) for k in self._raw]
        self._by_id = {k.id: k for k in self._keys}
        self.current = self._keys[0]

    def __reduce__(self) -> tuple[Any, ...]:
        return (Keyring, (list(self._raw),))

    @property
    def current_id(self) -> str:
        return self.current.id

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(k.id for k in self._keys)

    def encrypt(self, text: str, aad: bytes = b"") -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self.current.aead.encrypt(nonce, text.encode("utf-8"), aad)
        return f"{PREFIX}{self.current.id}:{base64.b64encode(nonce + sealed).decode('ascii')}"

    def decrypt(self, token: str, aad: bytes = b"") -> str:
        if not token.startswith(PREFIX):
            return token  # legacy plaintext
        kid = token[len(PREFIX) : HEADER_CHARS - 1]
        key = self._by_id.get(kid)
        if key is None or token[HEADER_CHARS - 1 : HEADER_CHARS] != ":":
            raise UnknownKey(f"value encrypted under key {kid!r}, which is not in the keyring")
        try:
            blob = base64.b64decode(token[HEADER_CHARS:], validate=True)
            plain = key.aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
        except (InvalidTag, binascii.Error, ValueError):
            raise Tampered("an encrypted value failed its authentication check") from None
        return plain.decode("utf-8")

    def mac(self, text: str) -> str:
        """HMAC-SHA256 under the current key (what a row stores)."""
        return _mac(self.current.mac, text)

    def macs(self, texts: Iterable[str]) -> list[str]:
        """Every HMAC a row holding one of ``texts`` may store: under the
        current key and, while a rotation runs, under the older ones."""
        return [_mac(k.mac, t) for t in texts for k in self._keys]


class PlainKeyring(Keyring):
    """Encryption off: values stored as they are and the "HMAC" is the value.
    For measuring what encryption costs (bench/crypto.py), never for data."""

    def __init__(self) -> None:
        self._raw = ()
        self._keys = []
        self._by_id = {}

    def __reduce__(self) -> tuple[Any, ...]:
        return (PlainKeyring, ())

    @property
    def current_id(self) -> str:
        return ""

    @property
    def ids(self) -> tuple[str, ...]:
        return ()

    def encrypt(self, text: str, aad: bytes = b"") -> str:
        return text

    def decrypt(self, token: str, aad: bytes = b"") -> str:
        return token

    def mac(self, text: str) -> str:
        return text

    def macs(self, texts: Iterable[str]) -> list[str]:
        return list(texts)


MAC_CHARS = 32  # HMAC-SHA256 truncated to 128 bits (RFC 2104 §5): a smaller unique index


def _mac(keyed: hmac.HMAC, text: str) -> str:
    mac = keyed.copy()
    mac.update(text.encode("utf-8"))
    return mac.hexdigest()[:MAC_CHARS]


KEY_FILE_HEADER = """\
# Paicha data key (数据密钥). BACK THIS FILE UP, apart from the database:
# without it the ID numbers, phones and addresses cannot be read.
# First line: the current key; lines after it: older keys still needed.
"""


def read_key_file(path: Path) -> list[bytes]:
    """The keys of a key file, the current first (ValueError if it is bad)."""
    keys = []
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            keys.append(decode_key(line))
        except ValueError as problem:
            raise ValueError(f"{path} line {number}: {problem}") from None
    if not keys:
        raise ValueError(f"{path} holds no key")
    return keys


def write_key_file(path: Path, keys: Sequence[bytes], *, replace: bool = False) -> None:
    """Write ``keys`` (the current first) with mode 0600. A new file is
    created exclusively; ``replace`` swaps an existing one atomically."""
    text = KEY_FILE_HEADER + "".join(encode_key(k) + "\n" for k in keys)
    path.parent.mkdir(parents=True, exist_ok=True)
    target = path.with_name(path.name + ".new") if replace else path
    if replace:
        target.unlink(missing_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    if replace:
        os.replace(target, path)


_keyring: Keyring | None = None
# Where the keys came from, when from a file: a value under a key the ring
# does not know makes the process read the file again (another process, e.g.
# `paicha rotate-key --new-key`, may have added a key since).
_key_file: Path | None = None
_reloaded_at = 0.0
RELOAD_EVERY = 1.0  # seconds: an unknown key id re-reads the file at most this often


def install(keyring: Keyring | None, key_file: Path | None = None) -> None:
    """This process's keyring (None: none, as at import)."""
    global _keyring, _key_file
    _keyring, _key_file = keyring, key_file


def key_file() -> Path | None:
    return _key_file


def _decrypt(token: str, aad: bytes) -> str:
    global _reloaded_at
    ring = keyring()
    try:
        return ring.decrypt(token, aad)
    except UnknownKey:
        now = time.monotonic()
        if _key_file is None or now - _reloaded_at < RELOAD_EVERY:
            raise
        _reloaded_at = now
        try:
            fresh = Keyring(read_key_file(_key_file))
        except (OSError, ValueError):
            raise UnknownKey(
                "value under a key that is neither in the ring nor in the key file"
            ) from None
        install(fresh, _key_file)
        return fresh.decrypt(token, aad)


def installed() -> Keyring | None:
    return _keyring


def keyring() -> Keyring:
    if _keyring is None:
        raise NoKeyring(
            "no data key installed in this process (storage.crypto.install): "
            "personal data can be neither written nor read"
        )
    return _keyring


def id_hmac(id_number: str | None) -> str | None:
    """What ``member.id_number_hmac`` holds for this ID number."""
    return None if id_number is None else keyring().mac(id_number)


def id_hmacs(numbers: Iterable[str]) -> list[str]:
    """The HMACs to look ID numbers up by (every key of the ring)."""
    return keyring().macs(numbers)


def is_encrypted(value: str | None) -> bool:
    return value is not None and value.startswith(PREFIX)


# Operators that need no plaintext: NULL tests and ordering by the stored text.
_ALLOWED = {
    operators.is_,
    operators.is_not,
    operators.asc_op,
    operators.desc_op,
    operators.nulls_first_op,
    operators.nulls_last_op,
}


class EncryptedText(TypeDecorator[str]):
    """A text column stored encrypted (see the module's docstring).

    ``EncryptedText("member.phone")``: the name is the associated data. The
    column cannot be compared in SQL (every encryption of a value differs):
    ``==``, ``in_``, ``like`` raise TypeError; look up by an HMAC column, or
    use ``type_coerce(column, Text)`` to reach the stored text itself."""

    impl = Text
    cache_ok = True

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.aad = name.encode("utf-8")

    class comparator_factory(TypeDecorator.Comparator[str]):  # SQLAlchemy names it so
        def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
            # A Python value compared with ciphertext never matches; column to
            # column (SQLAlchemy's own bookkeeping) and NULL tests are fine.
            if op not in _ALLOWED and any(
                o is not None and not isinstance(o, ClauseElement) for o in other
            ):
                raise TypeError(
                    "an encrypted column cannot be compared in SQL; use its HMAC column"
                )
            return super().operate(op, *other, **kwargs)

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        return keyring().encrypt(str(value), self.aad)

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        text = str(value)
        if not text.startswith(PREFIX):
            return text  # legacy plaintext
        return _decrypt(text, self.aad)
