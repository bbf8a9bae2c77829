"""The batch API: order, isolation of failures, vendor and PGP, cached pipeline."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from onionwatch.extractors import enrich, get_pipeline

from .conftest import make_listing


def test_order_is_kept_and_pipeline_cached() -> None:
    titles = [f"Cocaine {i}g" for i in range(1, 40)]
    out = enrich([make_listing(t, listing_id=str(i)) for i, t in enumerate(titles)], batch_size=7)
    assert [o.listing.title for o in out] == titles
    assert [o.enrichment.quantities[0].text for o in out] == [f"{i}g" for i in range(1, 40)]
    assert get_pipeline() is get_pipeline()


def test_one_bad_document_does_not_stop_the_batch(caplog: pytest.LogCaptureFixture) -> None:
    from spacy.language import Language

    from onionwatch.extractors.pipeline import build_pipeline

    nlp = build_pipeline()

    @Language.component("onionwatch_test_boom")
    def boom(doc):  # type: ignore[no-untyped-def]
        if "BOOM" in doc.text:
            raise RuntimeError("boom")
        return doc

    nlp.add_pipe("onionwatch_test_boom", first=True)
    listings = [make_listing("Cocaine 1g"), make_listing("BOOM heroin"), make_listing("Ketamine 5g")]
    with caplog.at_level(logging.WARNING):
        out = enrich(listings, nlp=nlp)
    assert [o.enrichment.substances for o in out] == [("cocaine",), (), ("ketamine",)]
    assert "boom" in caplog.text


def test_vendor_is_cleaned_and_found_in_text() -> None:
    out = enrich(
        [
            make_listing("Cocaine 1g", vendor="  DrWhite (1523) ★4.98 "),
            make_listing("Cocaine 1g", description="Vendor: NorthStar. Ships daily."),
            make_listing("Cocaine 1g"),
        ]
    )
    assert [o.enrichment.vendor for o in out] == ["DrWhite", "NorthStar", None]


def test_pgp_fingerprint() -> None:
    fp = "3A4B 5C6D 7E8F 9012 3456  7890 ABCD EF01 2345 6789"
    out = enrich([make_listing("Cocaine 1g", description=f"Verify me: {fp}")])
    assert out[0].enrichment.pgp_fingerprints == ("3A4B5C6D7E8F901234567890ABCDEF0123456789",)


def test_component_results_are_doc_extensions() -> None:
    """Components keep their results in ``doc.user_data``; ``doc._.ow_*`` reads them for callers."""
    doc = get_pipeline()("3.5g Cocaine $120 - sold by FlakeKing")
    assert [(q.value, q.unit) for q in doc._.ow_quantities] == [(Decimal("3.5"), "g")]
    assert [(p.amount, p.currency) for p in doc._.ow_prices] == [(Decimal("120"), "USD")]
    assert doc._.ow_vendor == "FlakeKing"
    assert doc._.ow_doses_mg == []
    assert doc._.ow_pgp == []


@pytest.mark.parametrize(
    ("text", "vendor"),
    [
        ("Kokain 1g Verkäufer: SchneeKoenig", "SchneeKoenig"),
        ("Cocaína 1g Vendedor: ElBlanco", "ElBlanco"),
        ("Cocaïne 1g Vendeur: LeBlanc", "LeBlanc"),
        ("Кокаин 1г Продавец: Snezhok", "Snezhok"),
    ],
)
def test_vendor_named_in_text_in_other_languages(text: str, vendor: str) -> None:
    assert get_pipeline()(text)._.ow_vendor == vendor


def test_a_failure_in_a_batched_component_costs_one_listing(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from onionwatch.extractors.pipeline import build_pipeline

    nlp = build_pipeline()
    quantities = nlp.get_pipe("quantities")
    parse = quantities.parser.parse

    def failing(text: str, **kwargs):  # type: ignore[no-untyped-def]
        if "BOOM" in text:
            raise RuntimeError("boom")
        return parse(text, **kwargs)

    monkeypatch.setattr(quantities.parser, "parse", failing)
    listings = [make_listing("Cocaine 1g"), make_listing("BOOM heroin 2g"), make_listing("Ketamine 5g")]
    with caplog.at_level(logging.WARNING):
        out = enrich(listings, nlp=nlp, batch_size=3)
    assert [o.enrichment.substances for o in out] == [("cocaine",), (), ("ketamine",)]
    assert "boom" in caplog.text
