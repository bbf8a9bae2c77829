"""Quantities: units, street measures, counts with per-unit doses."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from onionwatch.models import Enrichment

Extract = Callable[..., Enrichment]


def q(e: Enrichment) -> list[tuple[Decimal, str, Decimal | None]]:
    return [(x.value, x.unit, x.dose_mg) for x in e.quantities]


@pytest.mark.parametrize(
    ("title", "value"),
    [
        ("Cocaine 8-ball", "3.5"),
        ("8ball of coke", "3.5"),
        ("Meth QP shards", "113.4"),
        ("Kush HP outdoor", "226.8"),
        ("Weed 1 zip", "28.35"),
        ("Heroin teener", "1.77"),
        ("Cocaine 1 key", "1000"),
        ("MDMA 1/8 oz", "3.544"),
        ("Cocaine 7gs", "7"),
        ("Ketamine 1gr", "1"),
        ("Speed 2 x 5g", "10"),
        ("MDMA 500mg", "0.5"),
        ("Weed 1oz", "28.35"),
    ],
)
def test_mass(extract: Extract, title: str, value: str) -> None:
    assert q(extract(title)) == [(Decimal(value), "g", None)]


def test_pgp_key_is_not_a_kilo(extract: Extract) -> None:
    assert q(extract("Cocaine 1g, see my PGP key")) == [(Decimal(1), "g", None)]


@pytest.mark.parametrize(
    "title",
    [
        "Oxycodone 100 x 80mg",
        "Oxycodone 100x80mg",
        "Oxycodone 80mg x 100",
        "Oxycodone 80mg - 100 pills",
        "Oxycodone 100 pills of 80mg",
        "Oxycodone 100pcs 80mg",
    ],
)
def test_count_times_dose(extract: Extract, title: str) -> None:
    assert q(extract(title)) == [(Decimal(100), "unit", Decimal(80))]


def test_count_words_glued(extract: Extract) -> None:
    assert q(extract("Valium 10mg 21caps")) == [(Decimal(21), "unit", Decimal(10))]
    assert q(extract("Xanax x100")) == [(Decimal(100), "unit", None)]


def test_microgram_doses(extract: Extract) -> None:
    e = extract("LSD 150ug x 10 blotters")
    assert q(e) == [(Decimal(10), "unit", Decimal("0.15"))]
    e = extract("Fentanyl patches 100mcg x5")
    assert q(e) == [(Decimal(5), "unit", Decimal("0.1"))]


def test_bare_pill_dose_is_a_dose_not_a_weight(extract: Extract) -> None:
    e = extract("Xanax 2mg bars")
    assert q(e) == []
    assert e.doses_mg == (Decimal(2),)


def test_millilitres(extract: Extract) -> None:
    e = extract("Testosterone enanthate 250mg/ml 10ml vial")
    assert q(e) == [(Decimal(10), "ml", None)]


def test_count_before_the_name_takes_the_dose_after_it(extract: Extract) -> None:
    e = extract("Sampler: 10 x Ritalin 10 mg / 20 x Adderall 30mg")
    assert q(e) == [(Decimal(10), "unit", Decimal(10)), (Decimal(20), "unit", Decimal(30))]


def test_liquid_ounces_and_strength_multipliers(extract: Extract) -> None:
    assert q(extract("Promethazine codeine syrup 16oz bottle")) == [(Decimal("473.12"), "ml", None)]
    assert q(extract("Kratom extract 50x, 10g")) == [(Decimal(10), "g", None)]


def test_ranges_keep_the_upper_amount(extract: Extract) -> None:
    assert q(extract("1-1000 grams Ketamine")) == [(Decimal(1000), "g", None)]


@pytest.mark.parametrize(
    ("title", "count"),
    [("Vape carts (35 mixed cart)", 35), ("Xanax 100 yellow bars", 100), ("MDMA 50 pink pills", 50)],
)
def test_one_describing_word_between_count_and_count_word(extract: Extract, title: str, count: int) -> None:
    assert [(v, u) for v, u, _ in q(extract(title))] == [(Decimal(count), "unit")]


def test_a_function_word_is_not_a_description(extract: Extract) -> None:
    assert q(extract("Weed 10g, 10 free pills with every order")) == [(Decimal(10), "g", None)]


@pytest.mark.parametrize(("title", "grams"), [("Speed 500mg", "0.5"), ("250MG 4-FA SUPER MOLLY", "0.25")])
def test_bare_mg_of_a_powder_name_is_a_weight(extract: Extract, title: str, grams: str) -> None:
    assert q(extract(title)) == [(Decimal(grams), "g", None)]


def test_bare_mg_of_a_pill_brand_stays_a_dose(extract: Extract) -> None:
    e = extract("Adderall 20mg")
    assert q(e) == [] and e.doses_mg == (Decimal(20),)


def test_grm_is_grams(extract: Extract) -> None:
    assert q(extract("Cocaine 5 grm")) == [(Decimal(5), "g", None)]
    assert q(extract("Ketamine 10grms")) == [(Decimal(10), "g", None)]


def test_underscore_separates_like_a_space(extract: Extract) -> None:
    assert q(extract("LSD_300 hits of 250ug")) == [(Decimal(300), "unit", Decimal("0.25"))]


@pytest.mark.parametrize("title", ["Cocaine １０ｇ", "Cocaine 𝟏𝟎g", "Cocaine 𝟙𝟘𝕘"])
def test_full_width_and_fancy_font_digits(extract: Extract, title: str) -> None:
    e = extract(title)
    assert q(e) == [(Decimal(10), "g", None)]
    # the mention keeps the listing's own characters
    assert e.quantities[0].text == title.split(" ", 1)[1]


def test_container_of_count_takes_the_listing_dose(extract: Extract) -> None:
    e = extract("Oxycontin 80mg, Box of 28")
    assert q(e) == [(Decimal(28), "unit", Decimal(80))]


def test_container_of_a_weight_is_not_a_count(extract: Extract) -> None:
    assert q(extract("Weed bag of 10g")) == [(Decimal(10), "g", None)]


def test_title_opening_with_its_count(extract: Extract) -> None:
    assert q(extract("3 Black Domina Feminized Seeds")) == [(Decimal(3), "unit", None)]


def test_a_package_of_counted_units_gives_its_dose_to_what_is_inside(extract: Extract) -> None:
    e = extract("Pregabalin 1 strip (14 capsules) 75mg")
    assert q(e) == [(Decimal(1), "unit", None), (Decimal(14), "unit", Decimal(75))]


@pytest.mark.parametrize(
    ("title", "count", "dose"),
    [
        ("Xanax 2mg 100 Stück", 100, 2),
        ("Rivotril 2mg 30 comprimés", 30, 2),
        ("Tramadol 100mg 50 tabletten", 50, 100),
        ("Éxtasis 20 pastillas", 20, None),
    ],
)
def test_count_words_of_european_markets(extract: Extract, title: str, count: int, dose: int | None) -> None:
    (q,) = extract(title).quantities
    assert (q.value, q.unit, q.dose_mg) == (Decimal(count), "unit", None if dose is None else Decimal(dose))


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Мефедрон 1г 3000 руб.", [(Decimal(1), "g", None)]),
        ("Кокаин 0.5 гр", [(Decimal("0.5"), "g", None)]),
        ("Ксанакс 2мг 10 шт", [(Decimal(10), "unit", Decimal(2))]),
    ],
)
def test_units_of_russian_language_markets(
    extract: Extract, title: str, expected: list[tuple[Decimal, str, Decimal | None]]
) -> None:
    assert q(extract(title)) == expected


@pytest.mark.parametrize("title", ["Cocaine 1g/5g/10g", "Cocaine 1g-5g-10g", "Cocaine 1g - 5g - 10g"])
def test_tier_lists_glued_by_slash_or_dash(extract: Extract, title: str) -> None:
    assert [v for v, *_ in q(extract(title))] == [Decimal(1), Decimal(5), Decimal(10)]


@pytest.mark.parametrize(
    ("title", "grams"),
    [("OG Kush 28g (1oz)", "28"), ("OG Kush 1oz (28g)", "28.35"), ("Weed 3.5g [1/8 oz]", "3.5")],
)
def test_an_amount_restated_in_brackets_is_one_quantity(extract: Extract, title: str, grams: str) -> None:
    assert q(extract(title)) == [(Decimal(grams), "g", None)]


def test_a_fraction_is_not_a_tier_list(extract: Extract) -> None:
    assert q(extract("Weed 1/2 oz")) == [(Decimal("14.175"), "g", None)]
