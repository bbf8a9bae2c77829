"""Golden tests of every engine's vendor-profile page object, on profiles rendered from the lab's
catalogue with its supply-chain vendors: the text must carry each wallet and the PGP block so that
the entity extractors find exactly what the truth says."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from onionwatch.crawler.engines import engine_pages
from onionwatch.crawler.pages.base import Page
from onionwatch.errors import PageError
from onionwatch.extractors.entities import find_pgp_keys, find_wallets
from onionwatch.lab.market.catalogue import Catalogue, VendorTruth, generate
from onionwatch.lab.market.engines import ENGINES, MarketEngine
from onionwatch.lab.market.engines.kraken import listing_path
from onionwatch.lab.market.supply import SUPPLY_MARKETS, with_supply_chain

CATALOGUES: dict[str, Catalogue] = {
    name: with_supply_chain(generate(name, seed=5, listings=30, currencies=ENGINES[name].currencies))
    for name in SUPPLY_MARKETS
}
RENDERERS: dict[str, MarketEngine] = {name: ENGINES[name](c) for name, c in CATALOGUES.items()}
BASE = "http://vendorsexampleexampleexampleexampleexampleexampleexamplexyz.onion"


def _get(name: str, url: str) -> Page:
    parts = urlsplit(url)
    rendered = RENDERERS[name].render(parts.path, parse_qs(parts.query))
    return Page(
        url=BASE + url, body=rendered.body.encode(), market=name, content_type="text/html; charset=utf-8"
    )


def _listing_url(name: str, listing_id: str) -> str:
    if name == "nightshade":
        return f"/item/{listing_id}"
    if name == "bazaar":
        return f"/index.php?page=listing&id={listing_id}"
    return listing_path(CATALOGUES[name].by_id()[listing_id])


CASES = [(name, v) for name, c in CATALOGUES.items() for v in c.vendors]


@pytest.mark.parametrize(("name", "truth"), CASES, ids=lambda v: v if isinstance(v, str) else v.handle)
def test_a_listing_leads_to_its_vendor_whose_profile_carries_wallets_and_key(
    name: str, truth: VendorTruth
) -> None:
    pages = engine_pages(name)
    item = next(i for i in CATALOGUES[name].listings if i.vendor == truth.handle)
    url = pages.vendor_link(_get(name, _listing_url(name, item.listing_id)))
    assert url is not None and url.startswith(BASE)
    vendor = pages.vendor(_get(name, url.removeprefix(BASE)))
    assert (vendor.market, vendor.handle, vendor.url) == (name, truth.handle, url)
    assert vendor.ships_from == truth.ships_from
    assert [(w.chain, w.address) for w in find_wallets(vendor.text)] == list(truth.wallets)
    keys = find_pgp_keys(vendor.text)
    if truth.pgp_key is None:
        assert keys == [] and "BEGIN PGP" not in vendor.text
    else:
        assert [k.fingerprint for k in keys] == [truth.pgp_fingerprint]
        # the armor's lines are in the text exactly as the vendor published them
        assert truth.pgp_key in vendor.text
    # the profile only: the market's category menu is not part of it
    assert "Benzos" not in vendor.text.split("\n")
    assert len(vendor.page_sha256) == 64


def test_the_same_key_on_two_markets_under_two_handles() -> None:
    found = {}
    for name, handle in (("nightshade", "CheMaster"), ("bazaar", "chem_master_eu")):
        path = "/u/CheMaster" if name == "nightshade" else "/index.php?page=vendor&name=chem_master_eu"
        vendor = engine_pages(name).vendor(_get(name, path))
        assert vendor.handle == handle
        found[name] = [k.fingerprint for k in find_pgp_keys(vendor.text)]
    assert found["nightshade"] == found["bazaar"] and len(found["bazaar"]) == 1


@pytest.mark.parametrize("name", SUPPLY_MARKETS)
def test_the_vendor_parser_refuses_other_pages(name: str) -> None:
    item = CATALOGUES[name].listings[0]
    with pytest.raises(PageError, match="vendor page"):
        engine_pages(name).vendor(_get(name, _listing_url(name, item.listing_id)))
    with pytest.raises(PageError):
        engine_pages(name).vendor(_get(name, "/"))


@pytest.mark.parametrize("name", SUPPLY_MARKETS)
def test_pages_without_a_vendor_link_give_none(name: str) -> None:
    assert engine_pages(name).vendor_link(_get(name, "/")) is None
