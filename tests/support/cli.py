"""Running `leaderfollower check` in process, as the command-line tests do, and a command interrupted by a signal."""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Optional

from click.testing import CliRunner, Result

from leaderfollower.checker.cli.main import main


def check(*args: str) -> Result:
    """`leaderfollower check ARGS...` through click's runner (exceptions propagate)."""
    return CliRunner().invoke(main, ["check", *args], catch_exceptions=False)


def interrupted_run(command: list[str], wait_for: str, sig: int, cwd: Optional[Path] = None) -> tuple[int, str, str]:
    """Run a command, send it `sig` once a line of its stderr starts with `wait_for`; its exit code, stdout and stderr."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
    assert proc.stderr is not None
    try:
        for line in proc.stderr:
            if line.startswith(wait_for):
                break
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, out, err
