"""PGP public key blocks: keys generated at test time (never real people's), mangled armor, bad blocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pysequoia
import pytest

from onionwatch.extractors.entities import find_pgp_keys, scan_pgp_blocks
from tests.conftest import SHARED


@pytest.fixture(scope="module")
def vendor_key() -> pysequoia.Cert:
    return pysequoia.Tsk.generate("Test Vendor <vendor@example.invalid>").extract_certificate()


@pytest.fixture(scope="module")
def other_key() -> pysequoia.Cert:
    tsk = pysequoia.Tsk.generate(user_ids=["Second Shop", "Second Shop <shop@example.invalid>"])
    return tsk.extract_certificate()


def test_key_on_a_profile_page(vendor_key: pysequoia.Cert) -> None:
    text = f"About me: quality only.\n\n{vendor_key}\nThanks for reading"
    (key,) = find_pgp_keys(text)
    assert key.fingerprint == vendor_key.fingerprint.upper()
    assert len(key.fingerprint) == 40 and key.fingerprint == key.fingerprint.upper()
    assert key.user_ids == ("Test Vendor <vendor@example.invalid>",)
    assert key.created is not None and key.created.tzinfo is UTC
    assert abs(key.created - datetime.now(UTC)) < timedelta(hours=1)
    assert text[key.start : key.end].startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")


def test_several_keys_and_duplicates(vendor_key: pysequoia.Cert, other_key: pysequoia.Cert) -> None:
    text = f"{vendor_key}\nbackup key:\n{other_key}\nagain:\n{vendor_key}"
    keys = find_pgp_keys(text)
    assert [k.fingerprint for k in keys] == [vendor_key.fingerprint.upper(), other_key.fingerprint.upper()]
    assert set(keys[1].user_ids) == {"Second Shop", "Second Shop <shop@example.invalid>"}


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s.replace("\n", "<br>\n"),
        lambda s: s.replace("\n", "<br />"),
        lambda s: "\n".join("    " + line for line in s.splitlines()),
        lambda s: s.replace("\n", "  \r\n"),
        # a page that dropped the blank line after the armor headers
        lambda s: s.replace("\n\n", "\n", 1),
    ],
)
def test_armor_mangled_by_market_pages(vendor_key: pysequoia.Cert, mangle: object) -> None:
    assert callable(mangle)
    (key,) = find_pgp_keys(mangle(str(vendor_key)))
    assert key.fingerprint == vendor_key.fingerprint.upper()


def test_malformed_blocks_are_skipped_with_a_reason(vendor_key: pysequoia.Cert) -> None:
    armored = str(vendor_key)
    lines = armored.splitlines()
    body_start = lines.index("") + 1
    broken_base64 = lines.copy()
    broken_base64[body_start] = broken_base64[body_start][:10] + "!!" + broken_base64[body_start][12:]
    truncated = lines[: body_start + 2] + lines[-1:]
    empty = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n-----END PGP PUBLIC KEY BLOCK-----"
    text = "\n".join(["\n".join(broken_base64), "\n".join(truncated), empty, armored])
    scan = scan_pgp_blocks(text)
    assert [k.fingerprint for k in scan.keys] == [vendor_key.fingerprint.upper()]
    assert len(scan.skipped) == 3
    for skipped in scan.skipped:
        assert skipped.reason and "\n" not in skipped.reason and "backtrace" not in skipped.reason.lower()
        assert text[skipped.start : skipped.end].startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")


def test_unterminated_block_and_private_keys_are_not_keys() -> None:
    tsk = pysequoia.Tsk.generate("Secret <secret@example.invalid>")
    text = f"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBGVc6\n(cut off)\n{tsk}"
    scan = scan_pgp_blocks(text)
    assert scan.keys == () and scan.skipped == ()


def test_text_without_keys() -> None:
    assert find_pgp_keys("no key here, message me on the forum") == []


@pytest.mark.corpus
def test_real_market_key_page() -> None:
    page = SHARED / "corpus" / "pages" / "scout" / "non_captcha" / "nexus_pgp_key_1.html"
    if not page.is_file():
        pytest.skip(f"shared corpus not found at {page}")
    (key,) = find_pgp_keys(page.read_text("utf-8"))
    # cross-checked with `gpg --show-keys` on the same file
    assert key.fingerprint == "A7D62EA283788437FDD4AFC553449F7206C11BEF"
    assert key.user_ids == ("Nexus Market",)
    assert key.created == datetime.fromtimestamp(1700588539, UTC)


def test_v6_keys_have_64_digit_fingerprints() -> None:
    cert = pysequoia.Tsk.generate(
        "V6 <v6@example.invalid>", profile=pysequoia.Profile.RFC9580
    ).extract_certificate()
    (key,) = find_pgp_keys(str(cert))
    assert len(key.fingerprint) == 64 and key.fingerprint == cert.fingerprint.upper()
