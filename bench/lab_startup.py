"""Time from ``Lab.up()`` to ready (client bootstrapped, every onion descriptor uploaded, a fetch of
every onion's /healthz through the client), on this machine.

One first-ever start in an empty lab directory (authority, relay and onion keys generated), then N
cold starts in the same directory: fresh tor data directories every time, keys reused (so the onion
addresses stay the same). Prints min/median/max seconds to ready and the peak total RSS of the lab's
processes (sum of each process' VmHWM once ready). Stops every lab it starts and checks that no
process is left; the lab directory is a temporary one, removed at the end.

    .venv/bin/python bench/lab_startup.py [--runs 5] [--base-port 27500] [--timeout 120]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from onionwatch.lab.lab import Lab, LabState  # noqa: E402
from onionwatch.lab.market import MARKET_NAMES  # noqa: E402


def peak_rss_mb(state: LabState) -> float:
    """Sum of every lab process' peak resident set (VmHWM), in MB."""
    total_kb = 0
    for pid in state.pids.values():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                total_kb += int(line.split()[1])
    return total_kb / 1024


def leftovers(directory: Path) -> str:
    found = subprocess.run(["pgrep", "-af", f"{directory}/"], capture_output=True, text=True, check=False)
    return found.stdout.strip()


def one_start(
    directory: Path, base_port: int, timeout: float, verbose: bool
) -> tuple[float, float, dict[str, str]]:
    started = time.monotonic()

    def progress(message: str) -> None:
        if verbose:
            print(f"    {time.monotonic() - started:5.1f} s  {message}")

    lab = Lab(directory, base_port=base_port, progress=progress)
    try:
        state = lab.up(timeout=timeout)
        wall = time.monotonic() - started
        rss = peak_rss_mb(state)
        onions = {name: market.onion for name, market in state.markets.items()}
    finally:
        lab.down()
    left = leftovers(directory)
    if left:
        raise SystemExit(f"processes left after lab down:\n{left}")
    return wall, rss, onions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="cold starts with reused keys")
    parser.add_argument("--base-port", type=int, default=27500)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--verbose", action="store_true", help="print each launch stage with its time")
    args = parser.parse_args()

    print(
        f"lab: 3 authorities, 1 middle, 2 exits, 1 onion-service tor ({len(MARKET_NAMES)} markets), 1 client"
    )
    with tempfile.TemporaryDirectory(prefix="onionwatch-lab-bench-") as tmp:
        directory = Path(tmp) / "lab"
        first, first_rss, onions = one_start(directory, args.base_port, args.timeout, args.verbose)
        print(f"first-ever start (keys generated):  {first:5.1f} s to ready, peak RSS {first_rss:.0f} MB")

        times: list[float] = []
        rss: list[float] = []
        for run in range(1, args.runs + 1):
            seconds, peak, again = one_start(directory, args.base_port, args.timeout, args.verbose)
            if again != onions:
                raise SystemExit("onion addresses changed although keys were reused")
            times.append(seconds)
            rss.append(peak)
            print(
                f"cold start {run}/{args.runs} (fresh tor data dirs, keys reused): {seconds:5.1f} s, ", end=""
            )
            print(f"peak RSS {peak:.0f} MB")

    print(
        f"cold starts, keys reused (n={len(times)}): min {min(times):.1f} s, "
        f"median {statistics.median(times):.1f} s, max {max(times):.1f} s (goal: median <= 20 s)"
    )
    print(f"peak total RSS of the lab processes: {max([*rss, first_rss]):.0f} MB")
    print("onion addresses were stable across restarts; no lab process left")


if __name__ == "__main__":
    main()
