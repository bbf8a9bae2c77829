"""The demo's closing summary: what was crawled, stored and learned, checked against ground truth."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from onionwatch.crawler.run import CrawlReport
from onionwatch.index.query import SearchQuery
from onionwatch.index.store import Store
from onionwatch.lab.truth import compare, load_truth
from onionwatch.models import Vendor


def demo_summary(
    report: CrawlReport,
    store: Store,
    *,
    truth_dirs: dict[str, Path],
    elapsed: float,
    home_country: str | None = None,
) -> str:
    lines = ["", "onionwatch demo — summary", "=" * 26]
    events: Counter[str] = Counter()
    fentanyl = 0
    vendors = store.vendors()  # every market's, read once: the per-market lines and the supply chain
    vendors_in = Counter(v.market for v in vendors)
    for market in report.markets:
        events.update(market.events)
        fentanyl += int(market.stats.get("listing/fentanyl_class", 0))
        lines.append(
            f"market {market.market}: {market.pages} pages fetched through Tor, "
            f"{store.count_listings(market.market)} listings in the store, "
            f"{vendors_in[market.market]} vendors (crawl {market.finish_reason})"
        )
        if market.market in truth_dirs:
            truth = compare(store, load_truth(truth_dirs[market.market]))
            lines.append(
                f"  ground truth: {truth.matched}/{truth.expected} listings match (title, vendor, price); "
                f"fentanyl-class found {truth.fentanyl_found}/{truth.fentanyl_true}, "
                f"false alarms {truth.fentanyl_false_alarms}"
            )
            if truth.missing:
                lines.append(f"  missing: {', '.join(truth.missing[:10])}")
    lines.append(f"fentanyl-type listings this crawl: {fentanyl}")
    lines.extend(_supply_chain_lines(store, vendors, home_country))
    if events:
        lines.append("events: " + ", ".join(f"{kind} {count}" for kind, count in sorted(events.items())))
    else:
        lines.append("events: none (everything was already known)")
    lines.append(f"time taken: {elapsed:.1f} s (crawl {report.seconds:.1f} s)")
    return "\n".join(lines)


def _supply_chain_lines(store: Store, vendors: list[Vendor], home_country: str | None) -> list[str]:
    """Precursors (and how many ship from abroad), weapons, payment addresses and the accounts
    linked into one vendor by a shared PGP key or wallet."""

    def total(**filters: object) -> int:
        return store.search(SearchQuery.model_validate({"limit": 0, **filters})).total

    precursors = total(category="precursors")
    abroad = (
        f"{total(category='precursors', international=True)} shipped into {home_country} from abroad"
        if home_country
        else "set home_country to flag those from abroad"
    )
    lines = [
        f"supply chain: {precursors} precursor listings ({abroad}), "
        f"{total(category='weapons')} weapons listings; "
        f"{sum(1 for v in vendors if v.wallets)} vendor accounts show a wallet address, "
        f"{sum(1 for v in vendors if v.pgp_fingerprints)} a PGP key"
    ]
    for found in store.identities():
        accounts = " = ".join(f"{a.handle}@{a.market}" for a in found.accounts)
        why = ", ".join(f"{e.kind} {e.value[:16]}…" for e in found.evidence)
        lines.append(f"  one vendor: {accounts} (shared {why})")
    return lines
