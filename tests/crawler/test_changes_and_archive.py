"""Re-crawls that see the market change, and the archive that lets us parse again without it.

Over loopback through the stand-in SOCKS server (fast); tests/e2e covers the real Tor path.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from onionwatch.crawler.archive import archive_files, read_archive
from onionwatch.index.sqlite import SqliteStore
from onionwatch.lab.market.catalogue import evolve, generate
from tests.conftest import onionwatch_cli
from tests.support.servers import market_backend
from tests.support.socks5 import Socks5Server

ONION = "changes2k3zxwqzptnxdbfjikzgcq3ha5yveuxr7kwkpfl3ordsmt5xqmydxyz.onion"


@pytest.fixture
def market(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    state = tmp_path / "market"
    with (
        market_backend(state, listings=40, seed=11) as port,
        Socks5Server({ONION: ("127.0.0.1", port)}) as socks,
    ):
        yield state, socks.address


def _crawl(data: Path, socks: str) -> str:
    env = {"ONIONWATCH_DATA_DIR": str(data), "ONIONWATCH_CRAWL__ENRICH": "false"}
    result = onionwatch_cli(
        "crawl", "nightshade", "--url", f"http://{ONION}/", "--socks", socks, "--json", env=env
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_recrawl_detects_removed_listings_price_cuts_and_new_vendor(
    market: tuple[Path, str], tmp_path: Path
) -> None:
    state, socks = market
    data = tmp_path / "var"
    _crawl(data, socks)
    (state / "epoch").write_text("1")
    report = json.loads(_crawl(data, socks))[0]

    before = generate("nightshade", seed=11, listings=40)
    after = evolve(before, 1)
    old = {item.listing_id: item for item in before.listings}
    new = {item.listing_id: item for item in after.listings}
    removed = set(old) - set(new)
    cut = {i for i in set(old) & set(new) if old[i].price_usd != new[i].price_usd}
    assert report["removed"] == len(removed) > 0
    assert report["events"]["removed"] == len(removed)
    assert report["events"]["price_change"] == len(cut) > 0
    assert report["events"]["new_listing"] == len(set(new) - set(old)) == 2
    assert report["events"]["new_vendor"] >= 1

    with SqliteStore(data / "onionwatch.sqlite") as store:
        for listing_id in removed:
            stored = store.get("nightshade", listing_id)
            assert stored is not None and stored.removed
        for listing_id in cut:
            stored = store.get("nightshade", listing_id)
            assert stored is not None and not stored.removed
            assert stored.listing.price is not None
            assert stored.listing.price.amount == new[listing_id].price_usd < old[listing_id].price_usd
        assert "NewPlug1" in {v.handle for v in store.vendors("nightshade")}


def test_reparse_of_the_archive_equals_the_crawl(market: tuple[Path, str], tmp_path: Path) -> None:
    _, socks = market
    data = tmp_path / "var"
    _crawl(data, socks)
    files = archive_files(data / "archive", "nightshade")
    assert len(files) == 1
    pages = list(read_archive(files[0]))
    assert len(pages) > 40 and all(p.market == "nightshade" and p.mirror == ONION for p in pages)
    assert all(p.isolation == "nightshade" and len(p.sha256) == 64 for p in pages)

    rebuilt = tmp_path / "rebuilt.sqlite"
    env = {"ONIONWATCH_DATA_DIR": str(data)}
    result = onionwatch_cli("reparse", "--into", str(rebuilt), "--no-enrich", env=env)
    assert result.returncode == 0, result.stderr
    assert "40 listings" in result.stdout

    with SqliteStore(data / "onionwatch.sqlite") as crawled, SqliteStore(rebuilt) as reparsed:
        assert reparsed.count_listings("nightshade") == crawled.count_listings("nightshade") == 40
        for item in generate("nightshade", seed=11, listings=40).listings:
            a = crawled.get("nightshade", item.listing_id)
            b = reparsed.get("nightshade", item.listing_id)
            assert a is not None and b is not None
            assert a.listing == b.listing
            assert (a.first_seen, a.last_seen) == (b.first_seen, b.last_seen)


def test_archive_keeps_no_cookies_or_auth_headers(tmp_path: Path) -> None:
    import gzip

    from scrapy import Request
    from scrapy.http import HtmlResponse

    from onionwatch.crawler.archive import ArchiveMiddleware, ArchiveWriter

    writer = ArchiveWriter(tmp_path, "crawl1")
    middleware = ArchiveMiddleware(writer)
    request = Request(
        f"http://{ONION}/item/1",
        headers={"Cookie": "session=SECRET-SESSION", "Authorization": "Basic U0VDUkVULUFVVEg="},
        meta={"market": "m", "engine": "nightshade", "tor_isolation": "m"},
    )
    response = HtmlResponse(
        request.url,
        body=b"<html>ok</html>",
        headers={"Content-Type": "text/html", "Set-Cookie": "session=SECRET-NEW"},
        request=request,
    )
    middleware.process_response(request, response)
    middleware.spider_closed()
    (path,) = archive_files(tmp_path)
    raw = gzip.decompress(path.read_bytes())
    assert b"SECRET" not in raw and b"U0VDUkVU" not in raw
    (page,) = read_archive(path)
    assert (page.body, page.market, page.engine, page.isolation) == (
        b"<html>ok</html>",
        "m",
        "nightshade",
        "m",
    )
    assert request.meta["fetched_at"] == page.fetched_at


def test_the_captcha_image_is_not_archived(tmp_path: Path) -> None:
    from scrapy import Request
    from scrapy.http import Response

    from onionwatch.crawler.archive import ArchiveMiddleware, ArchiveWriter

    writer = ArchiveWriter(tmp_path, "crawl1")
    middleware = ArchiveMiddleware(writer)
    image = Request(f"http://{ONION}/captcha.png", meta={"market": "m", "allow_binary": True})
    page = Request(f"http://{ONION}/", meta={"market": "m"})
    middleware.process_response(image, Response(image.url, body=b"\x89PNG...", request=image))
    middleware.process_response(page, Response(page.url, body=b"<html></html>", request=page))
    middleware.spider_closed()
    assert [p.url for p in read_archive(archive_files(tmp_path)[0])] == [page.url]
