"""The one CLI. Each command group lives in ``onionwatch.commands.<group>`` with one owner;
this module only composes them and translates project errors into one clear line and an exit code.
"""

from __future__ import annotations

import sys

import typer

from onionwatch.commands import crawl, extraction, index, lab, markets, search, session, tor
from onionwatch.errors import OnionwatchError

app = typer.Typer(
    name="onionwatch",
    help="Monitor darknet drug marketplaces through Tor: crawl, extract, index, alert.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(lab.app, name="lab")
app.add_typer(index.app, name="index")
app.add_typer(tor.app, name="tor")
app.add_typer(markets.app, name="markets")
# Top-level commands (demo, crawl, search, parse, extract, eval, ...) from their owners' modules.
app.add_typer(crawl.app)
app.add_typer(extraction.app)
app.add_typer(search.app)
app.add_typer(session.app)


def main() -> None:
    # Standalone mode: click itself prints usage errors and exits with their codes (and with
    # typer.Exit's); only the project's own errors are translated here, to one line and a code.
    try:
        app()
    except OnionwatchError as exc:
        typer.secho(f"onionwatch: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
