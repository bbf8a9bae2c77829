"""CLI commands: ``onionwatch lab up|status|down`` (the private Tor network and simulated markets)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import NoReturn

import typer

from onionwatch.lab.lab import STATE_FILE, Lab, LabState
from onionwatch.settings import load_settings

app = typer.Typer(
    no_args_is_help=True, help="The lab: a private Tor network on 127.0.0.1 with onion markets."
)


def _progress(message: str) -> None:
    # Progress goes to stderr so stdout stays the summary a script can read.
    typer.echo(f"  {message}", err=True)


def _print_state(state: LabState, *, alive: bool = False) -> None:
    typer.echo(f"lab directory:  {state.directory}")
    typer.echo(f"state file:     {state.directory / STATE_FILE}")
    typer.echo(f"client SOCKS:   {state.socks_host}:{state.socks_port}  ({state.socks_proxy})")
    typer.echo(f"client control: {state.socks_host}:{state.control_port}  (cookie {state.control_cookie})")
    for market in state.markets.values():
        typer.echo(f"market {market.name}: {market.url}  (backend 127.0.0.1:{market.backend_port})")
    typer.echo(f"started at {state.started_at:%Y-%m-%d %H:%M:%S} UTC, ready in {state.ready_seconds:.1f}s")
    if alive:
        for role, pid in state.pids.items():
            typer.echo(f"  {role:<20} pid {pid:<8} {'alive' if state.alive.get(role) else 'DEAD'}")


def _lab_dir() -> tuple[Path, int]:
    settings = load_settings()
    return settings.lab_dir, settings.lab.base_port


@app.command()
def up(
    timeout: float = typer.Option(180.0, help="Seconds to wait for the whole lab to be ready."),
) -> None:
    """Start the lab and return once an onion fetch through its client works (processes keep running)."""
    directory, base_port = _lab_dir()
    typer.echo(f"starting the lab in {directory} (ports from {base_port})", err=True)
    state = Lab(directory, base_port=base_port, progress=_progress).up(timeout=timeout)
    # The lab's processes outlive this command on purpose (`lab down` stops them), so subprocess'
    # "still running" warning at interpreter exit would be noise here, and only here.
    warnings.filterwarnings("ignore", r"subprocess \d+ is still running", ResourceWarning)
    _print_state(state)
    typer.echo("stop it with: onionwatch lab down")


@app.command()
def status() -> None:
    """Show the running lab and whether each of its processes is alive (exit 1 when it is not running)."""
    directory, _ = _lab_dir()
    state = Lab.status(directory)
    if state is None:
        _not_running(f"the lab is not running (no {STATE_FILE} in {directory})")
    _print_state(state, alive=True)
    if not state.running:
        dead = sorted(role for role, alive in state.alive.items() if not alive)
        _not_running(
            f"the lab is not healthy: {', '.join(dead)} not running; `onionwatch lab down` cleans up"
        )


def _not_running(message: str) -> NoReturn:
    typer.secho(f"onionwatch: {message}", err=True, fg=typer.colors.RED)
    # Exit 1 ("not running", as scripts expect from a status command), not LabError's exit code; and
    # SystemExit because the CLI runs click with standalone_mode=False, which drops typer.Exit's code.
    raise SystemExit(1)


@app.command()
def down() -> None:
    """Stop every process of the lab (idempotent)."""
    directory, _ = _lab_dir()
    stopped = Lab.stop(directory)
    if stopped:
        typer.echo(f"stopped {len(stopped)} lab processes ({', '.join(stopped)})")
    else:
        typer.echo(f"the lab in {directory} was not running")
