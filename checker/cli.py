"""The `leaderfollower` command line: one group, one subcommand per job."""
from __future__ import annotations

import click


@click.group()
@click.version_option(package_name="leaderfollower")
def main() -> None:
    """leaderfollower: a model-checked leader/follower (Raft) replication pattern."""
