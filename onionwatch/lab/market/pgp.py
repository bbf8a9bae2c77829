"""Deterministic OpenPGP certificates for the lab's vendors (RFC 4880 v4, Ed25519, self-signed).

The lab's truth must be regenerable from its seed, and two market processes must show the same key
for one vendor without talking to each other. Key generators (Sequoia's included) draw fresh
randomness, so the certificate is assembled here from an Ed25519 key derived from a seed; Ed25519
signatures are deterministic, so the same seed always gives the same armored block, byte for byte.
The blocks are real certificates: Sequoia parses and verifies them like any other.

Only public material leaves this module; the secret key exists just long enough to self-sign.
"""

from __future__ import annotations

import base64
import hashlib
import struct

from Crypto.PublicKey import ECC
from Crypto.Signature import eddsa

__all__ = ["LabKey", "lab_key"]

_TAG_SIGNATURE = 2
_TAG_PUBLIC_KEY = 6
_TAG_USER_ID = 13
_ALGO_EDDSA = 22
_HASH_SHA256 = 8
_SIG_POSITIVE_CERT = 0x13
#: OID 1.3.6.1.4.1.11591.15.1 (Ed25519), as its length byte and DER body
_ED25519_OID = bytes.fromhex("092b06010401da470f01")
#: certify + sign (vendors sign their mirror lists and order messages with it)
_KEY_FLAGS = 0x03
_CRC24_INIT = 0xB704CE
_CRC24_POLY = 0x1864CFB


class LabKey:
    """A vendor's public certificate: its armored block and primary-key fingerprint."""

    __slots__ = ("armored", "fingerprint")

    def __init__(self, armored: str, fingerprint: str) -> None:
        self.armored = armored
        #: upper-case hex, as ``onionwatch.extractors.entities.find_pgp_keys`` reports it
        self.fingerprint = fingerprint


def _packet(tag: int, body: bytes) -> bytes:
    # New-format header with a five-octet length: valid for any body size, simplest to write.
    return bytes([0xC0 | tag, 0xFF]) + struct.pack(">I", len(body)) + body


def _mpi(value: bytes) -> bytes:
    stripped = value.lstrip(b"\0")
    bits = len(stripped) * 8 - (8 - stripped[0].bit_length()) if stripped else 0
    return struct.pack(">H", bits) + stripped


def _subpacket(kind: int, data: bytes) -> bytes:
    return bytes([len(data) + 1, kind]) + data


def _crc24(data: bytes) -> int:
    crc = _CRC24_INIT
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= _CRC24_POLY
    return crc & 0xFFFFFF


def _armor(data: bytes) -> str:
    b64 = base64.b64encode(data).decode("ascii")
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    crc = base64.b64encode(_crc24(data).to_bytes(3, "big")).decode("ascii")
    return "\n".join(
        ["-----BEGIN PGP PUBLIC KEY BLOCK-----", "", *lines, f"={crc}", "-----END PGP PUBLIC KEY BLOCK-----"]
    )


def lab_key(user_id: str, seed: str, created: int) -> LabKey:
    """The certificate of ``user_id`` derived from ``seed``, created at ``created`` (Unix time)."""
    secret = ECC.construct(
        curve="Ed25519", seed=hashlib.sha256(f"onionwatch-lab-pgp:{seed}".encode()).digest()
    )
    public = secret.public_key().export_key(format="raw")
    key_body = (
        bytes([4])
        + struct.pack(">I", created)
        + bytes([_ALGO_EDDSA])
        + _ED25519_OID
        + _mpi(b"\x40" + public)  # 0x40: the native (compressed) point prefix
    )
    fingerprint = hashlib.sha1(b"\x99" + struct.pack(">H", len(key_body)) + key_body).digest()
    uid = user_id.encode("utf-8")
    hashed = (
        _subpacket(2, struct.pack(">I", created))  # signature creation time
        + _subpacket(27, bytes([_KEY_FLAGS]))
        + _subpacket(33, b"\x04" + fingerprint)  # issuer fingerprint
    )
    head = bytes([4, _SIG_POSITIVE_CERT, _ALGO_EDDSA, _HASH_SHA256]) + struct.pack(">H", len(hashed)) + hashed
    digest = hashlib.sha256(
        b"\x99"
        + struct.pack(">H", len(key_body))
        + key_body
        + b"\xb4"
        + struct.pack(">I", len(uid))
        + uid
        + head
        + b"\x04\xff"
        + struct.pack(">I", len(head))
    ).digest()
    signature = eddsa.new(secret, "rfc8032").sign(digest)
    unhashed = _subpacket(16, fingerprint[-8:])  # issuer key id, for older readers
    sig_body = (
        head
        + struct.pack(">H", len(unhashed))
        + unhashed
        + digest[:2]
        + _mpi(signature[:32])
        + _mpi(signature[32:])
    )
    cert = _packet(_TAG_PUBLIC_KEY, key_body) + _packet(_TAG_USER_ID, uid) + _packet(_TAG_SIGNATURE, sig_body)
    return LabKey(_armor(cert), fingerprint.hex().upper())
