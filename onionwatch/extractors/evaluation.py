"""Measured quality: page kinds and generic listing fields on the shared real-page corpus, drug
detection on the Cypher titles, and every extraction field on the project's hand-labelled fixture.

Owns the metric definitions (documented in docs/extraction.md):
* drug spans: a predicted mention matches a gold one when canonical id and surface text (case-folded)
  agree; multiset precision/recall/F1 over all listings.
* fentanyl-class: listing-level precision/recall of ``fentanyl_class``.
* quantities: a listing is exact when its (value, unit, dose_mg) list equals the gold list (values
  within 1 %); mention-level P/R/F1 as well.
* prices: (amount, currency) mentions, P/R/F1; tier pairing accuracy over gold prices with a tier.
* vendor: exact match where the gold vendor is not null.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from onionwatch.models import Enrichment, Listing

#: corpus kind label -> page kinds counted as correct (PageKind has no anti_phishing, category,
#: feedback or message kind: these map to the nearest one)
ACCEPTED_KINDS: dict[str, frozenset[str]] = {
    "listing": frozenset({"listing"}),
    "vendor": frozenset({"vendor"}),
    "feedback": frozenset({"vendor"}),
    "search": frozenset({"search"}),
    "category": frozenset({"search"}),
    "category_index": frozenset({"search", "other"}),
    "main_page": frozenset({"search", "other"}),
    "login": frozenset({"login"}),
    "ddos": frozenset({"ddos"}),
    "anti_phishing": frozenset({"captcha"}),
    "captcha": frozenset({"captcha"}),
    "not_found": frozenset({"not_found"}),
    "meta_refresh": frozenset({"other"}),
    "message": frozenset({"other"}),
    "other": frozenset({"other"}),
}

#: Cypher category -> canonical ids or classes (prefixed "class:") that a title in it should yield
CYPHER_EXPECTED: dict[str, frozenset[str]] = {
    "Cocaine": frozenset({"cocaine", "crack"}),
    "Crack": frozenset({"crack", "cocaine"}),
    "Cannabis & Hashish": frozenset({"cannabis", "cbd", "class:cannabinoid"}),
    "Buds & Flowers": frozenset({"cannabis", "cbd"}),
    "Cannabis Concentrates": frozenset({"cannabis", "cbd"}),
    "Hash": frozenset({"cannabis"}),
    "Edibles": frozenset({"cannabis", "cbd", "psilocybin"}),
    "Opiates": frozenset({"class:opioid", "class:fentanyl_class"}),
    "Opiate pills": frozenset({"class:opioid", "class:fentanyl_class"}),
    "Heroin": frozenset({"heroin"}),
    "Mdma": frozenset({"mdma", "mda"}),
    "Ecstacy": frozenset({"mdma", "mda"}),
    "Xtc pills": frozenset({"mdma"}),
    "Benzodiazepines": frozenset({"class:benzodiazepine", "zolpidem"}),
    "Adderal & Vyvanse": frozenset({"amphetamine", "methylphenidate"}),
    "Speed": frozenset({"amphetamine"}),
    "Meth": frozenset({"methamphetamine"}),
    "Ketamine": frozenset({"ketamine"}),
    "LSD": frozenset({"lsd"}),
    "2-CB": frozenset({"2c-b"}),
    "Mushrooms": frozenset({"psilocybin"}),
    "DMT": frozenset({"dmt"}),
    "GHB": frozenset({"ghb"}),
    "Methylone & BK": frozenset({"cathinone"}),
    "Steroids": frozenset({"class:steroid"}),
}
CYPHER_NON_DRUG = frozenset(
    {
        "Digital Goods",
        "Software",
        "Software & Malware",
        "Counterfeits",
        "Fraud",
        "Carding",
        "Hacking",
        "Money",
        "ID's",
        "Botnets & Malware",
        "License keys",
    }
)


@dataclass
class PRF:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, gold: Iterable[Any], pred: Iterable[Any]) -> None:
        g, p = Counter(gold), Counter(pred)
        hit = sum((g & p).values())
        self.tp += hit
        self.fp += sum(p.values()) - hit
        self.fn += sum(g.values()) - hit

    def as_dict(self) -> dict[str, float | int]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return {
            "precision": round(p, 4),
            "recall": round(r, 4),
            "f1": round(f, 4),
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


@dataclass
class Rate:
    hits: int = 0
    total: int = 0

    def add(self, ok: bool) -> None:
        self.hits += int(ok)
        self.total += 1

    def as_dict(self) -> dict[str, float | int]:
        return {
            "rate": round(self.hits / self.total, 4) if self.total else 1.0,
            "hits": self.hits,
            "total": self.total,
        }


# --- fixture -----------------------------------------------------------------------------------


def load_fixture(path: Path) -> list[dict[str, Any]]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip() and not line.lstrip().startswith("//"):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{n}: {exc}") from exc
    return rows


def fixture_listing(row: dict[str, Any]) -> Listing:
    return Listing(
        market="fixture",
        listing_id=str(row["id"]),
        url="",
        title=row["title"],
        description=row.get("description"),
        price_text=row.get("price_text"),
        vendor=row.get("vendor"),
        crawled_at=datetime(2024, 6, 1, 12, tzinfo=UTC),
        page_sha256="0" * 64,
    )


def _close(a: Decimal | float | None, b: Decimal | float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    x, y = float(a), float(b)
    return abs(x - y) <= 0.01 * max(abs(x), abs(y), 1e-9)


def _quantities_equal(
    gold: Sequence[Sequence[Any]], pred: Sequence[tuple[Decimal, str, Decimal | None]]
) -> bool:
    if len(gold) != len(pred):
        return False
    return all(
        _close(g[0], p[0]) and g[1] == p[1] and _close(g[2] if len(g) > 2 else None, p[2])
        for g, p in zip(gold, pred, strict=True)
    )


def _qkey(value: Any, unit: str, dose: Any) -> tuple[str, str, str]:
    def r(x: Any) -> str:
        return "-" if x is None else f"{float(x):.3g}"

    return r(value), unit, r(dose)


def score_fixture(rows: list[dict[str, Any]], enriched: list[Enrichment]) -> dict[str, Any]:
    drugs, quantities, prices = PRF(), PRF(), PRF()
    fent = PRF()
    q_exact, p_exact, vendor, tiers = Rate(), Rate(), Rate(), Rate()
    errors: list[dict[str, Any]] = []
    for row, e in zip(rows, enriched, strict=True):
        exp = row["expect"]
        gold_drugs = [(d[0], d[1].lower()) for d in exp.get("drugs", [])]
        pred_drugs = [(d.id, d.text.lower()) for d in e.drugs]
        drugs.add(gold_drugs, pred_drugs)
        gold_fent = bool(
            exp.get(
                "fentanyl_class",
                any(d[0] in ("fentanyl", "carfentanil", "fentanyl_analog") for d in exp.get("drugs", [])),
            )
        )
        fent.add([row["id"]] if gold_fent else [], [row["id"]] if e.fentanyl_class else [])
        gold_q = exp.get("quantities", [])
        pred_q = [(q.value, q.unit, q.dose_mg) for q in e.quantities]
        quantities.add([_qkey(*[*list(g), None][:3]) for g in gold_q], [_qkey(*p) for p in pred_q])
        q_ok = _quantities_equal(gold_q, pred_q)
        q_exact.add(q_ok)
        gold_p = exp.get("prices", [])
        pred_p = [(f"{float(p.amount):.8g}", p.currency) for p in e.prices]
        prices.add([(f"{float(g[0]):.8g}", g[1]) for g in gold_p], pred_p)
        p_ok = sorted((f"{float(g[0]):.8g}", g[1]) for g in gold_p) == sorted(pred_p)
        p_exact.add(p_ok)
        for g in gold_p:
            if len(g) > 2 and g[2] is not None:
                match = [p for p in e.prices if _close(p.amount, g[0]) and p.currency == g[1]]
                tiers.add(bool(match) and match[0].quantity_index == g[2])
        if "vendor" in exp and exp["vendor"] is not None:
            vendor.add(e.vendor == exp["vendor"])
        if (
            Counter(gold_drugs) != Counter(pred_drugs)
            or not q_ok
            or not p_ok
            or gold_fent != e.fentanyl_class
        ):
            errors.append(
                {
                    "id": row["id"],
                    "title": row["title"],
                    "drugs": {"gold": gold_drugs, "pred": pred_drugs}
                    if Counter(gold_drugs) != Counter(pred_drugs)
                    else None,
                    "quantities": {
                        "gold": gold_q,
                        "pred": [[float(v), u, float(d) if d is not None else None] for v, u, d in pred_q],
                    }
                    if not q_ok
                    else None,
                    "prices": {"gold": gold_p, "pred": pred_p} if not p_ok else None,
                }
            )
    return {
        "listings": len(rows),
        "drug_spans": drugs.as_dict(),
        "fentanyl_class": fent.as_dict(),
        "quantity_mentions": quantities.as_dict(),
        "quantity_exact": q_exact.as_dict(),
        "price_currency": prices.as_dict(),
        "price_exact": p_exact.as_dict(),
        "tier_pairing": tiers.as_dict(),
        "vendor_exact": vendor.as_dict(),
        "errors": errors,
    }


def evaluate_fixture(path: Path, *, splits: Sequence[str] = ("dev", "test")) -> dict[str, Any]:
    from onionwatch.extractors.api import enrich

    rows = load_fixture(path)
    out: dict[str, Any] = {"path": str(path)}
    for split in splits:
        part = [r for r in rows if r.get("split") == split]
        enriched = [x.enrichment for x in enrich([fixture_listing(r) for r in part])]
        out[split] = score_fixture(part, enriched)
    return out


# --- corpus ------------------------------------------------------------------------------------


@dataclass
class FieldScore:
    correct: int = 0
    extracted: int = 0
    expected: int = 0
    misses: list[dict[str, Any]] = field(default_factory=list)

    def add(self, name: str, gold: Any, pred: Any, equal: bool) -> None:
        self.expected += 1
        self.extracted += int(pred not in (None, (), []))
        self.correct += int(equal)
        if not equal:
            self.misses.append({"page": name, "gold": gold, "pred": pred})

    def as_dict(self) -> dict[str, Any]:
        p = self.correct / self.extracted if self.extracted else 1.0
        r = self.correct / self.expected if self.expected else 1.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return {
            "precision": round(p, 4),
            "recall": round(r, 4),
            "f1": round(f, 4),
            "exact": round(self.correct / self.expected, 4) if self.expected else 1.0,
            "expected": self.expected,
            "misses": self.misses,
        }


def _corpus_rows(corpus: Path) -> list[tuple[str, str, dict[str, Any]]]:
    pages = corpus / "pages"
    rows: list[tuple[str, str, dict[str, Any]]] = []
    for market in ("dream", "empire"):
        f = pages / market / "expected.json"
        if f.is_file():
            for entry in json.loads(f.read_text(encoding="utf-8")):
                rows.append((f"{market}/{entry['file']}", entry["kind"], entry.get("expected") or {}))
    for folder in ("anita", "scout"):
        f = pages / folder / "labels.json"
        if f.is_file():
            for name, label in json.loads(f.read_text(encoding="utf-8")).items():
                expected = {
                    k: label[k] for k in ("title", "vendor", "price", "ships_from", "ships_to") if k in label
                }
                rows.append(
                    (f"{folder}/{name}", label["kind"], expected if label["kind"] == "listing" else {})
                )
    for f in sorted((pages / "cypher").glob("*.html")) if (pages / "cypher").is_dir() else []:
        rows.append((f"cypher/{f.name}", "category", {}))
    return rows


def evaluate_corpus(corpus: Path) -> dict[str, Any]:
    from onionwatch.crawler.pages.base import Page
    from onionwatch.crawler.pages.generic import extract_listing
    from onionwatch.crawler.pages.kind import detect_kind
    from onionwatch.errors import PageError

    kinds: dict[str, Rate] = {}
    confusion: Counter[tuple[str, str]] = Counter()
    fields = {name: FieldScore() for name in ("title", "vendor", "price", "ships_from", "ships_to")}
    for name, kind, expected in _corpus_rows(corpus):
        # the corpus files are UTF-8 whatever their <meta> says (README): decode as a server header would
        page = Page(
            url=(corpus / "pages" / name).as_uri(),
            body=(corpus / "pages" / name).read_bytes(),
            market=name.split("/")[0],
            content_type="text/html; charset=utf-8",
        )
        got = detect_kind(page).value
        kinds.setdefault(kind, Rate()).add(got in ACCEPTED_KINDS.get(kind, frozenset({kind})))
        confusion[(kind, got)] += 1
        wanted = {k: v for k, v in expected.items() if k in fields}
        if kind != "listing" or not wanted:
            continue
        try:
            listing: Listing | None = extract_listing(page)
        except PageError:
            listing = None
        for key, gold in wanted.items():
            pred: Any = None
            if listing is not None:
                if key == "price":
                    pred = (
                        {"amount": float(listing.price.amount), "currency": listing.price.currency}
                        if listing.price
                        else None
                    )
                elif key == "ships_to":
                    pred = list(listing.ships_to)
                else:
                    pred = getattr(listing, key)
            if key == "price":
                equal = (
                    pred is not None
                    and gold is not None
                    and pred["currency"] == gold["currency"]
                    and _close(pred["amount"], gold["amount"])
                )
            else:
                equal = pred == gold
            fields[key].add(name, gold, pred, equal)
    total = Rate(sum(r.hits for r in kinds.values()), sum(r.total for r in kinds.values()))
    return {
        "path": str(corpus),
        "page_kind": {"overall": total.as_dict(), **{k: r.as_dict() for k, r in sorted(kinds.items())}},
        "page_kind_confusion": [
            {"label": k, "detected": g, "pages": n} for (k, g), n in sorted(confusion.items())
        ],
        "listing_fields": {k: v.as_dict() for k, v in fields.items()},
    }


def evaluate_cypher(csv_path: Path) -> dict[str, Any]:
    """Drug detection on real titles: a title in a drug category should yield that category's
    substance; a title in a non-drug category should yield none (an upper bound of false positives:
    some guides do name drugs)."""
    from onionwatch.extractors.api import enrich

    seen: set[tuple[str, str]] = set()
    rows = []
    with csv_path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            title = re.sub(r"\s*\(clone\)\s*", " ", row["Product"], flags=re.I).strip()
            key = (title.lower(), row["Vendor"])
            if not title or key in seen:
                continue
            seen.add(key)
            rows.append((title, row["Category"], row["Vendor"]))
    listings = [
        Listing(
            market="cypher",
            listing_id=str(i),
            url="",
            title=t,
            vendor=v,
            crawled_at=datetime(2020, 9, 17, tzinfo=UTC),
            page_sha256="0" * 64,
        )
        for i, (t, _, v) in enumerate(rows)
    ]
    enriched = enrich(listings)
    per_cat: dict[str, Rate] = {}
    non_drug = Rate()
    vendor = Rate()
    for (_, cat, v), e in zip(rows, enriched, strict=True):
        en = e.enrichment
        vendor.add(en.vendor == v)
        if cat in CYPHER_EXPECTED:
            want = CYPHER_EXPECTED[cat]
            got = {d.id for d in en.drugs} | {f"class:{d.cls}" for d in en.drugs}
            per_cat.setdefault(cat, Rate()).add(bool(want & got))
        elif cat in CYPHER_NON_DRUG:
            non_drug.add(bool(en.drugs))
    hits = sum(r.hits for r in per_cat.values())
    total = sum(r.total for r in per_cat.values())
    return {
        "path": str(csv_path),
        "titles": len(rows),
        "drug_category_recall": Rate(hits, total).as_dict(),
        "per_category": {k: r.as_dict() for k, r in sorted(per_cat.items())},
        "non_drug_titles_with_a_drug": non_drug.as_dict(),
        "vendor_exact": vendor.as_dict(),
    }


def evaluate_cypher_labels(
    csv_path: Path, labels_path: Path, *, splits: Sequence[str] = ("dev", "test")
) -> dict[str, Any]:
    """The fixture metrics on real Cypher titles labelled by hand. The labels file holds only the row
    index (0-based data row of the CSV) and the labels; titles are read from the corpus at run time."""
    from onionwatch.extractors.api import enrich

    with csv_path.open(encoding="utf-8") as fh:
        data = list(csv.DictReader(fh))
    out: dict[str, Any] = {"path": str(labels_path)}
    labels = load_fixture(labels_path)
    for split in splits:
        rows = [
            {
                "id": f"cypher:{label['row']}",
                "title": data[int(label["row"])]["Product"],
                "expect": label["expect"],
            }
            for label in labels
            if label.get("split") == split
        ]
        listings = [
            Listing(
                market="cypher",
                listing_id=r["id"],
                url="",
                title=r["title"],
                crawled_at=datetime(2020, 9, 17, tzinfo=UTC),
                page_sha256="0" * 64,
            )
            for r in rows
        ]
        out[split] = score_fixture(rows, [x.enrichment for x in enrich(listings)])
    return out
