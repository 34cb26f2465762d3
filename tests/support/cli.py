"""Running `leaderfollower check` in process, as the command-line tests do."""
from __future__ import annotations

from click.testing import CliRunner, Result

from leaderfollower.checker.cli.main import main


def check(*args: str) -> Result:
    """`leaderfollower check ARGS...` through click's runner (exceptions propagate)."""
    return CliRunner().invoke(main, ["check", *args], catch_exceptions=False)
