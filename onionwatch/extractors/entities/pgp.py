"""Armored OpenPGP public key blocks in page text: fingerprint, user ids, creation time.

Vendors paste their public key on profile and listing pages; the primary-key fingerprint links one
identity across markets. Parsing is done by Sequoia-PGP (``pysequoia``), a maintained OpenPGP
implementation; PGPy was rejected because it is unmaintained and imports the removed ``imghdr``.
A block that cannot be parsed is skipped with its reason, never raised.

Market pages mangle armor: HTML turns newlines into ``<br>`` or collapses them, and copy-paste adds
indentation or trailing spaces. Lines are stripped before parsing, so indentation does not matter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC

from onionwatch.extractors.entities.models import PgpKey, SkippedPgpBlock

__all__ = ["PgpScan", "find_pgp_keys", "scan_pgp_blocks"]

_BLOCK = re.compile(
    r"-----BEGIN PGP PUBLIC KEY BLOCK-----(?P<body>.*?)-----END PGP PUBLIC KEY BLOCK-----",
    re.DOTALL,
)
_BR = re.compile(r"<br\s*/?>\r?\n?", re.IGNORECASE)


@dataclass(frozen=True)
class PgpScan:
    keys: tuple[PgpKey, ...]
    skipped: tuple[SkippedPgpBlock, ...]


def _reason(error: Exception) -> str:
    # Sequoia appends a Rust backtrace when RUST_BACKTRACE is set: keep the message line only.
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _clean(body: str) -> bytes:
    body = _BR.sub("\n", body)
    lines = [line.strip() for line in body.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    # Armor headers ("Version:", "Comment:") end at the first blank line; keep them as they are.
    text = "\n".join(lines).strip("\n")
    return f"-----BEGIN PGP PUBLIC KEY BLOCK-----\n{text}\n-----END PGP PUBLIC KEY BLOCK-----\n".encode()


def _normalise_headers(armor: bytes) -> bytes:
    """Insert the blank line after armor headers when a page dropped it (seen on market pages)."""
    lines = armor.decode().split("\n")
    index = 1
    while index < len(lines) and re.match(r"^[A-Za-z-]+: ", lines[index]):
        index += 1
    if index < len(lines) and lines[index] != "":
        lines.insert(index, "")
    return "\n".join(lines).encode()


def _parse(armor: bytes, start: int, end: int) -> PgpKey | SkippedPgpBlock:
    import pysequoia
    from pysequoia.packet import PacketPile

    try:
        cert = pysequoia.Cert.from_bytes(armor)
        packets = PacketPile.from_bytes(armor)
    except (RuntimeError, ValueError) as error:
        return SkippedPgpBlock(_reason(error), start, end)
    created = None
    for packet in packets:
        created = packet.key_created
        break
    if created is not None:
        created = created.astimezone(UTC)
    return PgpKey(
        fingerprint=cert.fingerprint.upper(),
        user_ids=tuple(str(uid) for uid in cert.user_ids),
        created=created,
        start=start,
        end=end,
    )


def scan_pgp_blocks(text: str) -> PgpScan:
    """Every public key block in ``text``: parsed keys and skipped blocks with reasons."""
    keys: list[PgpKey] = []
    skipped: list[SkippedPgpBlock] = []
    seen: set[str] = set()
    for match in _BLOCK.finditer(text):
        result = _parse(_normalise_headers(_clean(match.group("body"))), match.start(), match.end())
        if isinstance(result, SkippedPgpBlock):
            skipped.append(result)
        elif result.fingerprint not in seen:
            seen.add(result.fingerprint)
            keys.append(result)
    return PgpScan(tuple(keys), tuple(skipped))


def find_pgp_keys(text: str) -> list[PgpKey]:
    """Distinct public keys in ``text`` in order of appearance; malformed blocks are left out
    (:func:`scan_pgp_blocks` says why)."""
    return list(scan_pgp_blocks(text).keys)
