"""Command-line entry points of the implementation (`cluster`, `client`), added to `leaderfollower`."""
from __future__ import annotations

import click

commands: list[click.Command] = []
"""The click commands this package contributes to the `leaderfollower` group."""
