"""Wallet addresses: published test vectors, addresses built by the encoders, and near misses."""

from __future__ import annotations

import hashlib
import random

import pytest

from onionwatch.extractors.entities import find_wallets, validate_address
from onionwatch.extractors.entities.crypto import (
    b58check_decode,
    b58check_encode,
    eip55_checksum,
    keccak256,
    monero_b58_decode,
    monero_b58_encode,
    segwit_decode,
    segwit_encode,
)

RNG = random.Random(6)


def _bytes(n: int) -> bytes:
    return bytes(RNG.getrandbits(8) for _ in range(n))


def _monero(network: int, extra: int = 0) -> str:
    data = bytes([network]) + _bytes(64 + extra)
    return monero_b58_encode(data + keccak256(data)[:4])


# --- primitives against published vectors --------------------------------------------------------


def test_keccak256_is_keccak_not_sha3() -> None:
    # Keccak-256("") as used by Ethereum and Monero; SHA3-256("") differs (different padding)
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert hashlib.sha3_256(b"").hexdigest() != keccak256(b"").hex()


@pytest.mark.parametrize(
    "address",
    [
        # EIP-55 specification examples
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    ],
)
def test_eip55_spec_vectors(address: str) -> None:
    assert eip55_checksum(address.lower()) == address
    assert validate_address(address) == ("ethereum", True)


def test_bip173_p2wpkh_vector_decodes_to_its_program() -> None:
    decoded = segwit_decode("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4")
    assert decoded == ("bc", 0, bytes.fromhex("751e76e8199196d454941c45d1b3a323f1433bd6"))


def test_bip350_taproot_vector_decodes_to_its_program() -> None:
    decoded = segwit_decode("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0")
    program = bytes.fromhex("79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
    assert decoded == ("bc", 1, program)
    assert segwit_encode("bc", 1, program) == "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"


def test_base58check_round_trip_and_genesis_address() -> None:
    decoded = b58check_decode("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa")
    assert decoded is not None
    assert decoded[0] == 0
    assert b58check_encode(0, decoded[1]) == "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"


def test_monero_base58_round_trip_on_partial_blocks() -> None:
    for size in (0, 1, 5, 8, 13, 69, 77):
        data = _bytes(size)
        assert monero_b58_decode(monero_b58_encode(data)) == data


# --- valid addresses ---------------------------------------------------------------------------

VALID = [
    ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "bitcoin"),  # genesis block coinbase
    ("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "bitcoin"),  # P2SH example, Bitcoin wiki
    ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "bitcoin"),  # BIP-173
    ("bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3", "bitcoin"),  # BIP-173 P2WSH
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", "bitcoin"),  # BIP-350 P2TR
    ("bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y", "bitcoin"),  # BIP-350
    ("BC1SW50QGDZ25J", "bitcoin"),  # BIP-350 witness v16
    ("bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "bitcoin"),  # BIP-350 witness v2
    # Monero project's published donation addresses (standard and subaddress)
    (
        "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A",
        "monero",
    ),
    (
        "888tNkZrPN6JsEgekjMnABU4TBzc2Dt29EPAvkRxbANsAnjyPbb3iQ1YBRk1UXcdRsiKc9dhwMVgN5S9cQUiyoogDavup3H",
        "monero",
    ),
]


@pytest.mark.parametrize(("address", "chain"), VALID)
def test_published_addresses_are_valid(address: str, chain: str) -> None:
    assert validate_address(address) == (chain, True)


def _generated() -> list[tuple[str, str]]:
    out = [
        (b58check_encode(0x00, _bytes(20)), "bitcoin"),
        (b58check_encode(0x05, _bytes(20)), "bitcoin"),
        (b58check_encode(0x30, _bytes(20)), "litecoin"),
        (b58check_encode(0x32, _bytes(20)), "litecoin"),
        (segwit_encode("bc", 0, _bytes(20)), "bitcoin"),
        (segwit_encode("bc", 0, _bytes(32)), "bitcoin"),
        (segwit_encode("bc", 1, _bytes(32)), "bitcoin"),
        (segwit_encode("ltc", 0, _bytes(20)), "litecoin"),
        (segwit_encode("ltc", 1, _bytes(32)), "litecoin"),
        (_monero(18), "monero"),
        (_monero(19, extra=8), "monero"),
        (_monero(42), "monero"),
        (eip55_checksum("0x" + _bytes(20).hex()), "ethereum"),
    ]
    return out


GENERATED = [pair for _ in range(5) for pair in _generated()]


@pytest.mark.parametrize(("address", "chain"), GENERATED)
def test_generated_addresses_are_valid_and_found_in_text(address: str, chain: str) -> None:
    assert validate_address(address) == (chain, True)
    text = f"Pay to: {address}. Thanks"
    (mention,) = find_wallets(text)
    assert (mention.chain, mention.address, mention.checksummed) == (chain, address, True)
    assert text[mention.start : mention.end] == address


def test_address_prefixes_and_lengths_look_right() -> None:
    assert b58check_encode(0x30, _bytes(20))[0] == "L"
    assert b58check_encode(0x32, _bytes(20))[0] == "M"
    assert b58check_encode(0x05, _bytes(20))[0] == "3"
    assert _monero(18)[0] == "4" and len(_monero(18)) == 95
    assert _monero(19, extra=8)[0] == "4" and len(_monero(19, extra=8)) == 106
    assert _monero(42)[0] == "8" and len(_monero(42)) == 95


def test_unchecksummed_ethereum_addresses_are_reported_as_such() -> None:
    address = eip55_checksum("0x" + _bytes(20).hex())
    found = find_wallets(f"{address.lower()} {'0x' + address[2:].upper()}")
    assert [(m.chain, m.checksummed) for m in found] == [("ethereum", False), ("ethereum", False)]


# --- near misses -------------------------------------------------------------------------------


def _change_one(address: str, alphabet: str, index: int) -> str:
    char = address[index]
    replacement = next(c for c in alphabet if c != char)
    return address[:index] + replacement + address[index + 1 :]


B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


@pytest.mark.parametrize("index", [5, 15, -1])
@pytest.mark.parametrize("address", [a for a, _ in VALID if not a.lower().startswith("bc1")])
def test_one_changed_base58_character_is_invalid(address: str, index: int) -> None:
    assert validate_address(_change_one(address, B58, index)) is None


@pytest.mark.parametrize("index", [5, 15, -1])
def test_one_changed_bech32_character_is_invalid(index: int) -> None:
    address = "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3"
    assert validate_address(_change_one(address, "qpzry9x8gf2tvdw0s3jn54khce6mua7l", index)) is None


@pytest.mark.parametrize(
    "address",
    [
        # BIP-173 invalid vectors
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",  # bad checksum
        "BC13W508D6QEJXTDG4Y5R3ZARVARY0C5XW7KN40WF2",  # invalid witness version
        "bc1rw5uspcuh",  # invalid program length
        "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",  # invalid v0 program length
        "bc1qW508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",  # mixed case
        "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx",  # testnet: not a mainnet prefix we report
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb",  # last character changed
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfN",  # one character short
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD",  # EIP-55 case changed
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe",  # 39 hex digits
    ],
)
def test_published_near_misses_are_invalid(address: str) -> None:
    assert validate_address(address) is None
    assert find_wallets(f"send to {address} now") == []


def test_bech32_and_bech32m_constants_are_tied_to_the_witness_version() -> None:
    v0_with_bech32m = segwit_encode("bc", 0, _bytes(20), const=0x2BC830A3)
    v1_with_bech32 = segwit_encode("bc", 1, _bytes(32), const=1)
    assert validate_address(v0_with_bech32m) is None
    assert validate_address(v1_with_bech32) is None


def test_wrong_base58_version_bytes_are_invalid() -> None:
    for version in (0x01, 0x6F, 0xC4, 0x3A):  # testnet and unknown versions
        assert validate_address(b58check_encode(version, _bytes(20))) is None
    # right version, wrong payload length
    assert validate_address(b58check_encode(0x00, _bytes(19))) is None


def test_monero_wrong_network_byte_length_or_checksum_is_invalid() -> None:
    data = bytes([24]) + _bytes(64)  # testnet network byte
    assert validate_address(monero_b58_encode(data + keccak256(data)[:4])) is None
    data = bytes([18]) + _bytes(64)
    sha3_checksum = hashlib.sha3_256(data).digest()[:4]  # the classic Keccak/SHA3 mix-up
    assert validate_address(monero_b58_encode(data + sha3_checksum)) is None
    address = _monero(18)
    assert validate_address(_change_one(address, B58, 40)) is None
    assert validate_address(address[:-1]) is None
    integrated_on_standard_byte = bytes([18]) + _bytes(72)
    assert (
        validate_address(
            monero_b58_encode(integrated_on_standard_byte + keccak256(integrated_on_standard_byte)[:4])
        )
        is None
    )


def test_candidates_inside_longer_tokens_are_not_reported() -> None:
    address = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
    eth = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    text = f"x{address}x {eth}ff 0x{'ab' * 32} {address}{address}"
    assert find_wallets(text) == []


def test_several_chains_in_one_text_in_order() -> None:
    monero = VALID[8][0]
    text = (
        "BTC: 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa\n"
        f"XMR: {monero}\n"
        "ETH: 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed, LTC (bech32): "
        f"{segwit_encode('ltc', 0, bytes(range(20)))}"
    )
    assert [m.chain for m in find_wallets(text)] == ["bitcoin", "monero", "ethereum", "litecoin"]


def test_prose_and_pgp_armor_yield_nothing() -> None:
    text = (
        "Mexican Oxycodone M30 pressed 100x. Ships from USA. 1Lb of weed for 3 BTC.\n"
        "mQINBGVc6/sBEAC2D9H7iopeiaAd/MKXCst1tXQ/Fq7CL2wQscHDeeWW0gy1FhGJ\n"
        "Order ID 3f9a7c1e2b4d6a8c0e1f3a5b7c9d1e3f5a7b9c1d, sha256 "
        "1d4e6f8a0b2c4d6e8f0a2b4c6d8e0f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d4e"
    )
    assert find_wallets(text) == []
