"""The `leaderfollower` command line: one group, one subcommand per job."""
from __future__ import annotations

import click

from leaderfollower.impl import cli as impl_cli


@click.group()
@click.version_option(package_name="leaderfollower")
def main() -> None:
    """leaderfollower: a model-checked leader/follower (Raft) replication pattern."""


for _command in impl_cli.commands:
    main.add_command(_command)
