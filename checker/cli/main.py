"""The `leaderfollower` command line: one click group; each command lives in its own module here.

Exit codes everywhere: 0 all properties hold, 1 a property is violated (or a
sometimes property never held, or a deadlock), 2 a usage or input error, reported
on one line.
"""
from __future__ import annotations

import click

from leaderfollower.impl import cli as impl_cli

from leaderfollower.checker.cli.check import check
from leaderfollower.checker.cli.common import OneLineErrors
from leaderfollower.checker.cli.conform import conform
from leaderfollower.checker.cli.prove import prove
from leaderfollower.checker.cli.report import report
from leaderfollower.checker.cli.simulate import simulate
from leaderfollower.checker.cli.torture import torture
from leaderfollower.checker.cli.validate import validate
from leaderfollower.checker.cli.verify import verify


@click.group(cls=OneLineErrors)
@click.version_option(package_name="leaderfollower")
def main() -> None:
    """leaderfollower: a model-checked leader/follower (Raft) replication pattern."""


for _command in (check, simulate, verify, conform, prove, report, validate, torture, *impl_cli.commands):
    main.add_command(_command)
