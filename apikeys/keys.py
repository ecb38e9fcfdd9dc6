"""API key strings: generate, check, hash and mask. Pure functions, no database.

A key is ``{sk|pk|uk}_`` + 8-char lookup id + 32-char secret + 6-char checksum, all base62 (GitHub's token
layout). The checksum lets typos and garbage be refused before any database work and lets secret
scanners recognise a leaked key; the lookup id finds the row; only a SHA-256 digest of the whole key is
stored, and it is compared in constant time. ``sk_`` and ``pk_`` are an app's keys; ``uk_`` is a
person's own (personal) key, which reads the reports of their organisations' apps.
"""

import hashlib
import hmac
import re
import secrets
import string
import zlib
from dataclasses import dataclass
from enum import StrEnum

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
LOOKUP_ID_LENGTH = 8
SECRET_LENGTH = 32
CHECKSUM_LENGTH = 6
PERSONAL_PREFIX = "uk"
KEY_PATTERN = re.compile(r"^(sk|pk|uk)_([0-9A-Za-z]{8})([0-9A-Za-z]{32})([0-9A-Za-z]{6})$")


class KeyKind(StrEnum):
    SECRET = "secret"  # noqa: S105  (a key kind, not a credential)
    PUBLISHABLE = "publishable"

    @property
    def prefix(self) -> str:
        return "sk" if self is KeyKind.SECRET else "pk"

    @classmethod
    def from_prefix(cls, prefix: str) -> "KeyKind":
        return cls.SECRET if prefix == "sk" else cls.PUBLISHABLE


@dataclass(frozen=True)
class GeneratedKey:
    raw: str
    prefix: str
    lookup_id: str
    digest: str

    @property
    def kind(self) -> KeyKind:
        return KeyKind.from_prefix(self.prefix)


@dataclass(frozen=True)
class ParsedKey:
    prefix: str
    lookup_id: str

    @property
    def kind(self) -> KeyKind | None:
        """An app key's kind; None for a personal key."""
        return None if self.is_personal else KeyKind.from_prefix(self.prefix)

    @property
    def is_personal(self) -> bool:
        return self.prefix == PERSONAL_PREFIX


def _random_base62(length: int) -> str:
    return "".join(secrets.choice(BASE62) for _ in range(length))


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, remainder = divmod(number, 62)
        digits.append(BASE62[remainder])
    return "".join(reversed(digits)).rjust(width, "0")


def checksum(body: str) -> str:
    """CRC32 of everything before the checksum, in base62 (62**6 > 2**32, so six digits always fit)."""
    return _base62(zlib.crc32(body.encode()), CHECKSUM_LENGTH)


def digest(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def digests_match(stored: str, raw_key: str) -> bool:
    return hmac.compare_digest(stored, digest(raw_key))


def generate(kind: KeyKind) -> GeneratedKey:
    return _generate(kind.prefix)


def generate_personal() -> GeneratedKey:
    return _generate(PERSONAL_PREFIX)


def _generate(prefix: str) -> GeneratedKey:
    lookup_id = _random_base62(LOOKUP_ID_LENGTH)
    body = f"{prefix}_{lookup_id}{_random_base62(SECRET_LENGTH)}"
    raw = body + checksum(body)
    return GeneratedKey(raw=raw, prefix=prefix, lookup_id=lookup_id, digest=digest(raw))


def parse(raw_key: str) -> ParsedKey | None:
    """The key's prefix and lookup id, or None when its shape or checksum is wrong."""
    match = KEY_PATTERN.match(raw_key)
    if not match:
        return None
    prefix, lookup_id, _secret, given_checksum = match.groups()
    if not hmac.compare_digest(checksum(raw_key[:-CHECKSUM_LENGTH]), given_checksum):
        return None
    return ParsedKey(prefix=prefix, lookup_id=lookup_id)


def mask(kind: KeyKind | str, lookup_id: str) -> str:
    """What admin pages, logs and the API show instead of a key: ``sk_AbCd1234…``."""
    return masked(KeyKind(kind).prefix, lookup_id)


def masked(prefix: str, lookup_id: str) -> str:
    return f"{prefix}_{lookup_id}…"
