"""`impl.server.run`: uvloop's event loop when it is installed, asyncio's own when it is not."""
from __future__ import annotations

import asyncio
import sys

import pytest

from leaderfollower.impl.server import run


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_without_uvloop_the_default_loop_runs_the_same_code(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # `import uvloop` now raises ImportError
    assert run(_loop_module()).startswith("asyncio")


def test_with_uvloop_installed_its_loop_is_used() -> None:
    pytest.importorskip("uvloop")
    assert run(_loop_module()).startswith("uvloop")
