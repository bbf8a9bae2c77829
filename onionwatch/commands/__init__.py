"""CLI command groups, one module per owner; heavy imports happen inside the commands."""
