"""Crawl throughput through Tor against the concurrency/latency bound, and against a Privoxy bridge.

One run: a lab (private Tor network) whose market adds 500 ms to every page; N listing pages
fetched at concurrency 8 and 32 (a) with onionwatch's Tor download handler (SOCKS5h straight to
the client tor, one isolation key = one circuit), (b) with Scrapy's default HTTP handler through
Privoxy (Debian's privoxy, forward-socks5t to the same client tor), and (c) with the Tor handler
spreading requests over N isolated circuits (a market's ``circuits`` setting). Prints pages/s and
the fraction of the bound ``concurrency / latency`` each reaches. The URL list is flat on purpose:
it measures the download path, not the spider's link graph (whose first pages cannot be fetched
in parallel).

    .venv/bin/python bench/crawl_throughput.py [--pages 160] [--latency-ms 500]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FETCH = r"""
import json, sys, time
from scrapy import Request, Spider
from scrapy.crawler import CrawlerProcess
from onionwatch.crawler.addon import OnionwatchAddon

mode, proxy, urls = sys.argv[1], sys.argv[2], sys.argv[5:]
concurrency, circuits = int(sys.argv[3]), int(sys.argv[4])
done = {"ok": 0, "failed": 0, "first": None, "last": None}

class Flat(Spider):
    name = "flat"
    async def start(self):
        done["t0"] = time.monotonic()
        for i, url in enumerate(urls):
            # Tor handler: N isolation keys = N circuits, as a market's `circuits` setting does
            meta = {"proxy": proxy} if mode == "privoxy" else {"tor_isolation": f"bench-{i % circuits}"}
            yield Request(url, meta=meta, dont_filter=True, errback=self.failed)
    def parse(self, response):
        now = time.monotonic()
        done["first"] = done["first"] or now
        done["last"] = now
        done["ok"] += 1
    def failed(self, failure):
        done["failed"] += 1

settings = {
    "CONCURRENT_REQUESTS": concurrency, "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
    "DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "RETRY_ENABLED": False,
    "ROBOTSTXT_OBEY": False, "LOG_LEVEL": "ERROR", "TELNETCONSOLE_ENABLED": False,
    "ITEM_PIPELINES": {}, "DOWNLOAD_TIMEOUT": 120,
}
if mode == "tor":
    settings.update({"ADDONS": {OnionwatchAddon: 0}, "ONIONWATCH_TOR_SOCKS": proxy,
                     "ONIONWATCH_ENRICH_ENABLED": False})
process = CrawlerProcess(settings)
started = time.monotonic()
process.crawl(Flat)
process.start()
end = done["last"] or time.monotonic()
print(json.dumps({**done, "elapsed": end - done.get("t0", started)}))
"""


def run_fetch(
    mode: str, proxy: str, concurrency: int, urls: list[str], circuits: int = 1
) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", FETCH, mode, proxy, str(concurrency), str(circuits), *urls],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
        check=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_privoxy(directory: Path, port: int, socks: str) -> subprocess.Popen[bytes]:
    config = directory / "privoxy.conf"
    config.write_text(
        f"listen-address 127.0.0.1:{port}\n"
        f"forward-socks5t / {socks} .\n"
        "max-client-connections 256\n"
        "keep-alive-timeout 30\n"
        "socket-timeout 120\n"
        "toggle 0\n"
    )
    proc = subprocess.Popen(
        ["privoxy", "--no-daemon", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    import socket

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("privoxy did not start")


def main() -> None:
    from onionwatch.lab.lab import Lab
    from onionwatch.lab.truth import load_truth

    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=160)
    parser.add_argument("--latency-ms", type=float, default=500)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--circuits", type=int, default=4, help="also measure N isolated circuits (1: skip)")
    args = parser.parse_args()
    privoxy = shutil.which("privoxy") or ("/usr/sbin/privoxy" if Path("/usr/sbin/privoxy").exists() else None)
    latency = args.latency_ms / 1000

    with tempfile.TemporaryDirectory(prefix="ow-bench-") as tmp:
        directory = Path(tmp)
        market_args = {"nightshade": ["--listings", str(args.pages), "--latency-ms", str(args.latency_ms)]}
        lab = Lab(directory / "lab", base_port=29000, markets=["nightshade"], market_args=market_args)
        with lab as state:
            truth = load_truth(directory / "lab" / "markets" / "nightshade")
            base = state.markets["nightshade"].url.rstrip("/")
            urls = [f"{base}/item/{item['listing_id']}" for item in truth["listings"]]
            socks = f"{state.socks_host}:{state.socks_port}"
            proxy_proc = None
            if privoxy:
                port = free_port()
                proxy_proc = start_privoxy(directory, port, socks)
            try:
                run_fetch("tor", socks, 8, urls[:16])  # warm the circuit and the onion descriptor
                print(f"{len(urls)} listing pages, {args.latency_ms:.0f} ms injected server latency per page")
                print(f"{'path':<28}{'conc':>5}{'pages/s':>10}{'bound':>8}{'ratio':>8}{'failed':>8}")
                for concurrency in args.concurrency:
                    bound = concurrency / latency
                    rows = [("onionwatch Tor handler", "tor", socks, 1)]
                    if proxy_proc is not None:
                        rows.append(("Scrapy + Privoxy bridge", "privoxy", f"http://127.0.0.1:{port}", 1))
                    if args.circuits > 1:
                        rows.append((f"Tor handler, {args.circuits} circuits", "tor-n", socks, args.circuits))
                    measured = {}
                    for label, mode, proxy, circuits in rows:
                        result = run_fetch(mode.removesuffix("-n"), proxy, concurrency, urls, circuits)
                        rate = result["ok"] / result["elapsed"]
                        measured[mode] = rate
                        print(
                            f"{label:<28}{concurrency:>5}{rate:>10.2f}{bound:>8.1f}{rate / bound:>8.2f}"
                            f"{int(result['failed']):>8}"
                        )
                    if "privoxy" in measured:
                        ratio = measured["tor"] / measured["privoxy"]
                        print(f"{'  tor handler / privoxy':<28}{concurrency:>5}{ratio:>10.2f}")
                if proxy_proc is None:
                    print("privoxy not installed (apt-get install privoxy): bridge not measured")
            finally:
                if proxy_proc is not None:
                    proxy_proc.terminate()
                    proxy_proc.wait(timeout=10)


if __name__ == "__main__":
    main()
