"""Admin addresses for rows without a UUID column.

Samples, minutes, alerts, enrolments, consents, keys and deliveries have sequential primary keys: in admin URLs they
would tell how many rows all schools have together, and let ids be counted and probed. Rather than a UUID column on
tables of millions of rows, the admin shows a keyed permutation of the pk: a 4-round Feistel network over 64 bits
whose round function is an HMAC keyed with SECRET_KEY and the model's label. A row keeps its address (links and the
admin log stay valid), the pk comes back without a lookup table, and without SECRET_KEY no address can be made for
a chosen pk. It hides counts and order; it is not meant to hide anything else.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from django.conf import settings

ROUNDS = 4
HALF = 0xFFFFFFFF
TOKEN = re.compile(r"[0-9a-f]{16}")


def _key(label: str) -> bytes:
    return hmac.new(
        settings.SECRET_KEY.encode(), f"fermonitor.admin-id:{label}".encode(), hashlib.sha256
    ).digest()


def _round(key: bytes, index: int, half: int) -> int:
    digest = hmac.new(key, bytes([index]) + half.to_bytes(4, "big"), hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big")


def encode(label: str, pk: int) -> str:
    """The 16 hex digits that stand for primary key `pk` of the model `label` (e.g. "analytics.emotionsample")."""
    if not 0 <= pk <= 0xFFFFFFFFFFFFFFFF:
        raise ValueError(f"A primary key between 0 and 2**64 - 1 was expected, not {pk}")
    key = _key(label)
    left, right = pk >> 32, pk & HALF
    for index in range(ROUNDS):
        left, right = right, left ^ _round(key, index, right)
    return f"{left:08x}{right:08x}"


def decode(label: str, token: str) -> int | None:
    """The primary key behind `token`, or None for anything `encode` cannot have made (a bare pk, garbage)."""
    if not isinstance(token, str) or not TOKEN.fullmatch(token):
        return None
    key = _key(label)
    value = int(token, 16)
    left, right = value >> 32, value & HALF
    for index in reversed(range(ROUNDS)):
        left, right = right ^ _round(key, index, left), left
    return (left << 32) | right
