"""What a vendor's profile proves about who runs it: payment addresses and a PGP key, derived from
the lab's seed so every market process (and every test) derives the same ones.

Addresses are checksum-valid (built with the extractors' own encoders, so "valid" means what the
extractor means) but belong to nobody: their payloads are hashes of the seed, not of any key.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Literal

from onionwatch.extractors.entities.crypto import (
    b58check_encode,
    eip55_checksum,
    keccak256,
    monero_b58_encode,
    segwit_encode,
)
from onionwatch.extractors.entities.models import Chain
from onionwatch.lab.market.pgp import LabKey, lab_key

#: address formats a vendor may show: legacy Bitcoin, native segwit Bitcoin, Monero, Ethereum
WalletKind = Literal["p2pkh", "bech32", "monero", "ethereum"]

_CHAINS: dict[WalletKind, Chain] = {
    "p2pkh": "bitcoin",
    "bech32": "bitcoin",
    "monero": "monero",
    "ethereum": "ethereum",
}
#: Monero mainnet standard address network byte
_XMR_STANDARD = 18
_KEYS_FROM = datetime(2020, 1, 1, tzinfo=UTC)


def _bytes(seed: int, key: str, purpose: str, size: int) -> bytes:
    out = b""
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"onionwatch-lab:{seed}:{key}:{purpose}:{counter}".encode()).digest()
        counter += 1
    return out[:size]


def wallet(kind: WalletKind, seed: int, key: str) -> tuple[Chain, str]:
    """(chain, address) of the wallet called ``key`` in the world of ``seed``."""
    if kind == "p2pkh":
        return "bitcoin", b58check_encode(0, _bytes(seed, key, kind, 20))
    if kind == "bech32":
        return "bitcoin", segwit_encode("bc", 0, _bytes(seed, key, kind, 20))
    if kind == "monero":
        data = bytes([_XMR_STANDARD]) + _bytes(seed, key, kind, 64)  # spend key + view key
        return "monero", monero_b58_encode(data + keccak256(data)[:4])
    return "ethereum", eip55_checksum("0x" + _bytes(seed, key, kind, 20).hex())


def chain_of(kind: WalletKind) -> Chain:
    return _CHAINS[kind]


def vendor_key(seed: int, identity: str, user_id: str) -> LabKey:
    """The PGP certificate of ``identity``: one per identity, whichever market shows it."""
    days = int.from_bytes(_bytes(seed, identity, "pgp-created", 4), "big") % 1800
    created = int((_KEYS_FROM + timedelta(days=days)).timestamp())
    return lab_key(user_id, f"{seed}:{identity}", created)


def default_wallets(seed: int, market: str, handle: str) -> tuple[tuple[Chain, str], ...]:
    """A drug vendor's addresses: per account (markets hand out deposit addresses per account), one
    Bitcoin address in either format, and a Monero address for about half of them."""
    account = f"{market}/{handle}"
    choice = _bytes(seed, account, "wallet-kinds", 2)
    kinds: list[WalletKind] = ["bech32" if choice[0] % 2 else "p2pkh"]
    if choice[1] % 2:
        kinds.append("monero")
    return tuple(wallet(kind, seed, f"{account}:{kind}") for kind in kinds)
