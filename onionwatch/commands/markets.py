"""CLI commands: markets (configured markets, validated, with mirror health)."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=False, invoke_without_command=True)


@app.callback()
def markets() -> None:
    """Validate config/markets/*.yaml and show each market's mirrors, healthiest first."""
    from onionwatch.crawler.mirrors import MirrorBook
    from onionwatch.settings import load_markets, load_settings

    settings = load_settings()
    configured = load_markets(settings.markets_dir)
    if not configured:
        typer.echo(f"no markets configured in {settings.markets_dir}")
        return
    for name, market in configured.items():
        typer.echo(
            f"{name}: engine {market.engine}, concurrency {market.concurrency}, "
            f"delay {market.download_delay} s"
        )
        book = MirrorBook(settings.data_dir / "mirrors" / f"{name}.json", market.mirrors)
        for mirror in book.ordered():
            health = book.health[mirror]
            typer.echo(
                f"  {mirror}  last ok {health.last_ok or 'never'}, "
                f"last failure {health.last_failure or 'never'}, "
                f"{health.consecutive_failures} consecutive failure(s)"
            )
