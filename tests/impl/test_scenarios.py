"""The scenario files of tests/impl/testdata (etcd-style stories with golden output; see scenario.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from scenario import Scenario, parse, run_file

TESTDATA = Path(__file__).parent / "testdata"
FILES = sorted(TESTDATA.glob("*.txt"))


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_scenario_file(path: Path, request: pytest.FixtureRequest) -> None:
    rewrite = bool(request.config.getoption("--rewrite-golden"))
    diffs = run_file(path, rewrite)
    if rewrite:
        return
    assert not diffs, "run with --rewrite-golden to accept:\n\n" + "\n\n".join(
        f"{command}\n---- golden\n{expected}\n---- now\n{got}" for command, expected, got in diffs)


def test_there_are_scenarios_and_a_malformed_file_is_named() -> None:
    assert {p.stem for p in FILES} >= {"elections", "log_repair"}
    with pytest.raises(ValueError, match=r"x.txt:2: expected '----'"):
        parse("status\nnot a separator\n", "x.txt")
    with pytest.raises(ValueError, match="unknown scenario command 'fly'"):
        Scenario().run("fly 1")
