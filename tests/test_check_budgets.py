"""`check`'s everyday use: budgets and their verdict, exit codes, progress lines, interruption.

A run that a budget (`--max-seconds`, `--max-states`, `--max-depth`) stops before
its queue is empty ends "incomplete (bounded by ...)" with exit 3, never "holds";
a violation found first is still exit 1.  On a stderr that is not a terminal the
progress is a plain line every few seconds, `--json` runs included.  A real SIGINT
or SIGTERM sent to a running `check` makes it print what it found so far, say
incomplete, and exit 130 or 143.  Runs go through the console script (a real
process, a real pipe for stderr) where the terminal or a signal matters.
"""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.cli import check

from leaderfollower.checker.explore.budget import Budget
from leaderfollower.checker.explore.search import explore
from leaderfollower.spec.params import PRESETS
from leaderfollower.spec.raft import RaftSpec

pytestmark = pytest.mark.usefixtures("in_tmp")

PROGRESS_LINE = re.compile(r"^exploring: states [\d,]+, depth \d+, queue [\d,]+, [\d,]+ states/s, \d+ s$")
CHECK = [str(Path(sys.executable).parent / "leaderfollower"), "check"]


def test_a_depth_budget_checks_every_state_within_it_and_says_incomplete() -> None:
    spec = RaftSpec(PRESETS["tiny"])
    full = explore(spec, keep_graph=False)
    bounded = explore(spec, keep_graph=False, budget=Budget(max_depth=5))
    # Every state within 5 steps is expanded, so every state within 6 is found, and no more.
    assert bounded.distinct_states == sum(full.states_per_depth[:7])
    assert not bounded.complete and bounded.stopped_by == "max-depth"
    # A depth limit at the diameter leaves nothing out: the search is complete.
    assert explore(spec, keep_graph=False, budget=Budget(max_depth=full.diameter)).complete


@pytest.mark.parametrize(
    ("args", "bounded_by"),
    [
        (["--max-states", "2000"], "--max-states 2,000"),
        (["--max-depth", "8"], "--max-depth 8"),
        (["--preset", "full", "--max-seconds", "0.5"], "--max-seconds 0.5"),
    ],
)
def test_a_budget_ends_incomplete_with_exit_3_and_never_holds(args: list[str], bounded_by: str) -> None:
    result = check(*args, "--json")
    assert result.exit_code == 3, result.output
    doc = json.loads(result.stdout)
    assert doc["verdict"] == "incomplete" and doc["bounded_by"] == bounded_by and not doc["complete"]
    assert doc["verdict_line"].startswith(f"incomplete (bounded by {bounded_by})")
    statuses = {row["status"] for row in doc["properties"]}
    assert "holds" not in statuses and "never-witnessed" not in statuses
    assert statuses <= {"no-violation-so-far", "not-witnessed-yet", "witnessed", "skipped"}  # skipped: liveness needs the whole graph


def test_the_table_output_ends_with_the_bounded_verdict() -> None:
    result = check("--max-states", "2000")
    assert result.exit_code == 3
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("incomplete (bounded by --max-states 2,000): no violation in")


def test_a_budget_the_run_fits_in_changes_nothing() -> None:
    result = check("--preset", "tiny", "--max-states", "100000", "--max-depth", "100", "--max-seconds", "600", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["verdict"] == "holds" and doc["complete"] and doc["bounded_by"] is None


def test_a_violation_found_within_a_budget_is_exit_1() -> None:
    result = check("--preset", "tiny", "--spec", "non-majority-quorum", "--max-states", "100000", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["verdict"] == "violated"


@pytest.mark.parametrize("args", [["--max-states", "0"], ["--max-depth", "-1"], ["--max-seconds", "0"], ["--max-seconds", "x"]])
def test_a_bad_budget_is_a_one_line_usage_error(args: list[str]) -> None:
    result = check(*args)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and args[0] in result.stderr


def test_progress_is_a_plain_line_when_stderr_is_not_a_terminal(in_tmp: Path) -> None:
    run = subprocess.run(
        # A state budget, not a time one: progress is looked at every 20,000 states, so a starved
        # search (2,569 states/s once, beside a two-core run) met a 6-second budget after one line.
        [*CHECK, "--preset", "full", "--max-states", "200000", "--progress-every", "0.3", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 3, run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) >= 2 and all(PROGRESS_LINE.match(line) for line in lines), lines
    assert json.loads(run.stdout)["verdict"] == "incomplete"  # stdout is the document alone
    assert list(in_tmp.iterdir()) == []


@pytest.mark.parametrize(("sig", "code", "name"), [(signal.SIGINT, 130, "SIGINT"), (signal.SIGTERM, 143, "SIGTERM")])
def test_an_interrupted_run_prints_what_it_has_and_says_incomplete(sig: signal.Signals, code: int, name: str) -> None:
    proc = subprocess.Popen(
        [*CHECK, "--preset", "full", "--progress-every", "0.2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    try:
        # The first progress line: the search is under way (and the handlers installed).
        first = proc.stderr.readline()
        assert PROGRESS_LINE.match(first.strip()), first
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err
    assert "properties" in out and "action coverage" in out  # the tables of what it found
    assert f"incomplete (interrupted by {name})" in out
    assert "Traceback" not in err


def test_an_interrupted_json_run_prints_its_document() -> None:
    proc = subprocess.Popen([*CHECK, "--preset", "full", "--json", "--progress-every", "0.2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    try:
        proc.stderr.readline()
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    doc = json.loads(out)
    assert doc["verdict"] == "incomplete" and doc["stopped_by"] == "interrupted" and doc["distinct_states"] > 0
    assert all(row["status"] != "holds" for row in doc["properties"])
