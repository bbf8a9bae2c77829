"""CLI commands: tor (health of the Tor the crawler uses)."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True)


@app.command()
def status(
    wait: Annotated[float, typer.Option(help="wait up to this many seconds for bootstrap")] = 0.0,
) -> None:
    """Bootstrap health, SOCKS listeners and circuits per isolation key of the configured Tor (or the lab's)."""
    from onionwatch.crawler.torctl import TorControl
    from onionwatch.errors import TorUnavailableError
    from onionwatch.lab.lab import Lab
    from onionwatch.settings import load_settings

    settings = load_settings()
    if settings.tor.control_port is not None:
        password = settings.tor.control_password
        control = TorControl(
            settings.tor.control_port,
            host=settings.tor.socks_host,
            password=password.get_secret_value() if password else None,
            cookie_path=settings.tor.cookie_path,
        )
    else:
        state = Lab.status(settings.lab_dir)
        if state is None:
            raise TorUnavailableError(
                "no Tor control port configured (ONIONWATCH_TOR__CONTROL_PORT) and no lab running"
            )
        control = TorControl(state.control_port, cookie_path=state.control_cookie)
    with control:
        health = control.wait_ready(wait) if wait else control.health()
        typer.echo(health.describe())
        for key, count in sorted(control.circuits_by_isolation().items()):
            typer.echo(f"  isolation {key}: {count} circuit(s)")
    if not health.ready:
        raise typer.Exit(1)
