"""CLI commands: tor (health of the Tor the crawler uses)."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True)


@app.command()
def status(
    wait: Annotated[float, typer.Option(help="wait up to this many seconds for bootstrap")] = 0.0,
) -> None:
    """Bootstrap health, SOCKS listeners and circuits per isolation key (configured Tor, else the lab's)."""
    from onionwatch.crawler.torctl import control_for
    from onionwatch.errors import TorUnavailableError
    from onionwatch.lab.lab import Lab
    from onionwatch.settings import load_settings

    settings = load_settings()
    state = Lab.status(settings.lab_dir)
    control = control_for(settings.tor, (state.control_port, state.control_cookie) if state else None)
    if control is None:
        raise TorUnavailableError(
            "no Tor control port configured (ONIONWATCH_TOR__CONTROL_PORT) and no lab running"
        )
    with control:
        health = control.wait_ready(wait) if wait else control.health()
        typer.echo(health.describe())
        for key, count in sorted(control.circuits_by_isolation().items()):
            typer.echo(f"  isolation {key}: {count} circuit(s)")
    if not health.ready:
        raise typer.Exit(1)
