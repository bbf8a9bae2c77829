"""Drug mentions: canonical ids, slang, ambiguity, negation and comparison (one hard case per test)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from onionwatch.extractors.textfold import fold
from onionwatch.models import Enrichment

Extract = Callable[..., Enrichment]


def ids(e: Enrichment) -> list[str]:
    return [d.id for d in e.drugs]


def test_plain_fentanyl_is_fentanyl_class(extract: Extract) -> None:
    e = extract("Fentanyl HCl powder 1g 99% pure")
    assert ids(e) == ["fentanyl"]
    assert e.fentanyl_class
    assert e.drugs[0].cls == "fentanyl_class"


@pytest.mark.parametrize("title", ["Fetty 1g", "fenty powder 500mg", "China Girl 2g", "Murder 8 5g"])
def test_fentanyl_slang(extract: Extract, title: str) -> None:
    assert "fentanyl" in ids(extract(title))


def test_no_fent_is_a_negation(extract: Extract) -> None:
    e = extract("Afghan heroin #3 brown, no fent, 1g $90")
    assert set(ids(e)) == {"heroin"}
    assert not e.fentanyl_class


def test_fent_free_and_tested_negative(extract: Extract) -> None:
    e = extract("Black tar heroin, fent-free, tested negative for fentanyl")
    assert not e.fentanyl_class
    assert "heroin" in ids(e)


def test_comparison_is_not_an_offer(extract: Extract) -> None:
    e = extract("Etizolam 1mg x 100 - as strong as fentanyl? no, but strong")
    assert not e.fentanyl_class
    e2 = extract("Kratom extract, stronger than heroin")
    assert ids(e2) == ["kratom"]


def test_test_strips_are_not_fentanyl(extract: Extract) -> None:
    assert not extract("Fentanyl test strips x10, harm reduction").fentanyl_class


def test_china_white_defaults_to_heroin(extract: Extract) -> None:
    e = extract("China White #4 1g")
    assert e.drugs[0].id == "heroin"


def test_china_white_with_fentanyl_context(extract: Extract) -> None:
    e = extract("China White - potent synthetic, 1g, use ug scales")
    assert e.drugs[0].id == "fentanyl"
    assert e.fentanyl_class


def test_china_white_heroin_with_negated_fent_stays_heroin(extract: Extract) -> None:
    e = extract("China White heroin, no fent, 1g")
    assert set(ids(e)) == {"heroin"}


def test_pressed_m30_is_fentanyl(extract: Extract) -> None:
    e = extract("Pressed M30 blues x100 $5 each")
    assert set(ids(e)) == {"fentanyl"}
    assert e.fentanyl_class


def test_pharma_m30_is_oxycodone(extract: Extract) -> None:
    e = extract("Pharma M30 Oxycodone 30mg Mallinckrodt x 100")
    assert set(ids(e)) == {"oxycodone"}
    assert not e.fentanyl_class


def test_pressed_percs_are_fentanyl(extract: Extract) -> None:
    assert extract("Pressed Percs 30 x 50 blue").fentanyl_class


def test_carfentanil(extract: Extract) -> None:
    e = extract("Carfentanil 1g - lab supply, handle with care")
    assert ids(e) == ["carfentanil"]
    assert e.fentanyl_class


def test_fentanyl_analogue_keeps_its_name(extract: Extract) -> None:
    e = extract("Acetyl fentanyl 5g and para-fluorofentanyl 1g")
    assert [(d.id, d.name) for d in e.drugs] == [
        ("fentanyl_analog", "acetylfentanyl"),
        ("fentanyl_analog", "para-fluorofentanyl"),
    ]
    assert e.fentanyl_class


def test_unknown_analogue_caught_by_family_rule(extract: Extract) -> None:
    e = extract("Cyclobutylfentanyl research chemical 1g")
    assert [(d.id, d.name) for d in e.drugs] == [("fentanyl_analog", "cyclobutylfentanyl")]


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("Isotonitazene 1g", "isotonitazene"),
        ("N-pyrrolidino etonitazene (etonitazepyne) 500mg", "n-pyrrolidino etonitazene"),
        ("Metonitazene powder 1g", "metonitazene"),
        ("Etazene 1g", "etodesnitazene"),
    ],
)
def test_nitazenes(extract: Extract, title: str, name: str) -> None:
    e = extract(title)
    assert e.drugs[0].id == "nitazene"
    assert e.drugs[0].name == name
    assert not e.fentanyl_class  # nitazenes are opioids, not fentanyl-related substances


def test_xylazine_tranq(extract: Extract) -> None:
    e = extract("Tranq 10g pure xylazine HCl")
    assert set(ids(e)) == {"xylazine"}


def test_tranq_dope_with_fent(extract: Extract) -> None:
    e = extract("Tranq dope - fent + xylazine mix 1g")
    assert {"xylazine", "fentanyl"} <= set(ids(e))
    assert e.fentanyl_class


def test_offsets_index_the_joined_text(extract: Extract) -> None:
    from onionwatch.extractors import listing_text

    from .conftest import make_listing

    listing = make_listing("Cocaine 1g", "Bolivian flake, also ketamine")
    e = extract("Cocaine 1g", "Bolivian flake, also ketamine")
    text = listing_text(listing)
    assert [text[d.start : d.end] for d in e.drugs] == [d.text for d in e.drugs]
    assert e.drugs[-1].id == "ketamine"
    assert e.drugs[-1].start > len("Cocaine 1g")


def test_speed_as_shipping_word_is_not_amphetamine(extract: Extract) -> None:
    assert ids(extract("Fast shipping speed guaranteed, stealth packaging")) == []


def test_non_drug_listing_has_no_drugs(extract: Extract) -> None:
    e = extract("Louis Vuitton Bracelet 48 AAA+ gold bars")
    assert ids(e) == []


@pytest.mark.parametrize(
    ("title", "drug", "text"),
    [
        ("★[𝔼𝕌✈𝕎𝕎]ℙ𝕗𝕚𝕫𝕖𝕣 𝕏𝕒𝕟𝕒𝕩 𝟚𝕞𝕘 𝕊ℝ 𝟛𝟘 ℙ𝕚𝕝𝕝𝕤", "alprazolam", "𝕏𝕒𝕟𝕒𝕩"),
        ("ＣＯＣＡＩＮＥ 1g $80", "cocaine", "ＣＯＣＡＩＮＥ"),
    ],
)
def test_fancy_font_and_full_width_names(extract: Extract, title: str, drug: str, text: str) -> None:
    """Styled letters dodge keyword filters; the name matches, the span keeps the page's text."""
    e = extract(title)
    assert [(d.id, d.text) for d in e.drugs] == [(drug, text)]
    assert title[e.drugs[0].start : e.drugs[0].end] == text


def test_fancy_font_negation_is_a_negation(extract: Extract) -> None:
    assert ids(extract("Black tar heroin 1g, 𝕟𝕠 𝕗𝕖𝕟𝕥")) == ["heroin"]


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Northern lights| Moonrocks| OG KUSH| Sour Diesel|", ["cannabis"] * 4),
        ("|Cocaine| 1g", ["cocaine"]),
        ("Super Hash/ Rif Morocco", ["cannabis"]),
        ("GOLDEN DREAM 99,9%DMT", ["dmt"]),
    ],
)
def test_names_glued_to_separators_and_purities(extract: Extract, title: str, expected: list[str]) -> None:
    assert ids(extract(title)) == expected


@pytest.mark.parametrize(
    "title", ["Pure DMT FREE SHIPPING", "Cocaine free delivery 1g", "Heroin - free WW shipping"]
)
def test_free_shipping_after_a_name_is_an_offer_not_a_negation(extract: Extract, title: str) -> None:
    assert len(extract(title).drugs) == 1


def test_seeds_and_cartridges_are_cannabis_only_with_cues(extract: Extract) -> None:
    assert ids(extract("3 BLACK DOMINA FEMINIZED SEEDS")) == ["cannabis"]
    assert ids(extract("HIGH EXOTIC VAPE PEN CARTRIDGES AVAILABLE")) == ["cannabis"]
    assert ids(extract("Printer cartridges HP 302 black")) == []


@pytest.mark.parametrize(
    ("title", "drug"),
    [
        ("HEROINA 1g", "heroin"),
        ("heroína 1g", "heroin"),
        ("Kétamine 5g", "ketamine"),
        ("méthamphetamine", "methamphetamine"),
    ],
)
def test_names_with_or_without_accents(extract: Extract, title: str, drug: str) -> None:
    e = extract(title)
    assert ids(e) == [drug]
    assert e.drugs[0].text == title.split()[0]


def test_fold_keeps_one_character_for_one() -> None:
    text = "Kétamine 𝕏𝕒𝕟𝕒𝕩 ＣＯＫＥ ½g µg"
    folded = fold(text)
    assert len(folded) == len(text)
    assert folded == "Ketamine Xanax COKE ½g μg"


@pytest.mark.parametrize(
    ("title", "drug"),
    [
        ("Metanfetamina cristal 1g", "methamphetamine"),
        ("Haszysz 5g", "cannabis"),
        ("Éxtasis 20 pastillas", "mdma"),
        ("Mefedron 10g", "cathinone"),
        ("Paddos 30g", "psilocybin"),
        ("Kodeina syrop", "codeine"),
    ],
)
def test_names_of_european_markets(extract: Extract, title: str, drug: str) -> None:
    assert ids(extract(title)) == [drug]


@pytest.mark.parametrize(
    ("title", "drug"),
    [
        ("Мефедрон 1г 3000 руб.", "cathinone"),
        ("Кокаин 0.5 гр ₽ 5000", "cocaine"),
        ("Альфа-ПВП 1г", "cathinone"),
        ("Гашиш 5 грамм", "cannabis"),
        ("Ксанакс 2мг 10 шт", "alprazolam"),
        ("Фентанил 1г", "fentanyl"),
    ],
)
def test_names_of_russian_language_markets(extract: Extract, title: str, drug: str) -> None:
    assert ids(extract(title)) == [drug]


@pytest.mark.parametrize("title", ["ManyCam Enterprise + Crack", "Adobe Photoshop 2020 Crack"])
def test_software_crack_is_not_crack_cocaine(extract: Extract, title: str) -> None:
    assert ids(extract(title)) == []
