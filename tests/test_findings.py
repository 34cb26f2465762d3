"""What the explorer reports about a finding: the right action, only real states, honest verdicts.

Four reporting bugs of issue 12, one scenario each:
- under symmetry, the action named in the error header and the JSON is the concrete one the
  printed trace ends in (not the stored representative's);
- an action that raises is not a step: the trace ends in the state where it raised, the
  failing action and its exception come on a line of their own, the ITF file holds only real
  states, and "violated after N steps" counts N as TLC does for an evaluation error;
- `--continue` after an exception explores the other successors and says the search is
  incomplete, with the number of states not fully expanded; never "complete" or "holds";
- a label shared by two successors (an action with two branches) is rebuilt into the trace by
  the state it reached, and a trace that cannot be rebuilt fails loudly.
"""
from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Iterator, Optional

import pytest
from click.testing import CliRunner, Result

from support.cli import check

from leaderfollower.checker.cli.main import main
from leaderfollower.checker.explore.result import ExploreResult
from leaderfollower.checker.explore.search import explore
from leaderfollower.checker.explore.traces import TraceError, finding_trace, trace_to
from leaderfollower.checker.formats.itf import read_itf
from leaderfollower.checker.jobs.check import property_statuses
from leaderfollower.spec.params import PRESETS, Params
from leaderfollower.spec.properties import PROPERTIES, commit_within_log
from leaderfollower.spec.actions import Action
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import State

TINY = PRESETS["tiny"]
SYM = Params(servers=3, values=1, max_term=2, max_log=0, max_copies=1, max_in_flight=1, symmetry=True)

# The same broken action as a module for the explorer and as a file for the command line.
RAISING_SOURCE = """
from leaderfollower.spec.raft import RaftSpec


class RaisesInAppendEntries(RaftSpec):
    \"\"\"A broken spec: AppendEntries raises wherever it would be enabled.\"\"\"

    name = "raises-in-append-entries"

    def append_entries(self, s, i, j):
        nxt = super().append_entries(s, i, j)
        if nxt is not None:
            raise IndexError(f"boom: {i}->{j}")
        return nxt


class RaisesInBecomeLeader(RaftSpec):
    \"\"\"A broken spec: BecomeLeader raises wherever it would be enabled.\"\"\"

    name = "raises-in-become-leader"

    def become_leader(self, s, i):
        nxt = super().become_leader(s, i)
        if nxt is not None:
            raise IndexError(f"boom: server {i}")
        return nxt


class NeverLeader(RaftSpec):
    \"\"\"RaisesInBecomeLeader with the raising action disabled instead.\"\"\"

    name = "never-leader"

    def become_leader(self, s, i):
        return None
"""
_namespace: dict[str, object] = {}
exec(compile(RAISING_SOURCE, "raising_specs", "exec"), _namespace)
RaisesInAppendEntries: type[RaftSpec] = _namespace["RaisesInAppendEntries"]  # type: ignore[assignment]
RaisesInBecomeLeader: type[RaftSpec] = _namespace["RaisesInBecomeLeader"]  # type: ignore[assignment]
NeverLeader: type[RaftSpec] = _namespace["NeverLeader"]  # type: ignore[assignment]


pytestmark = pytest.mark.usefixtures("in_tmp")



def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "raising.py"
    path.write_text(textwrap.dedent(RAISING_SOURCE))
    return path


def sym_args(path: Path, cls: str) -> list[str]:
    return ["--spec", f"{path}:{cls}", "--servers", "3", "--max-log", "0", "--symmetry"]


# ------------------------------------------------- 1. the concrete action under symmetry


def test_under_symmetry_the_error_names_the_action_the_trace_ends_in() -> None:
    result = explore(RaisesInAppendEntries(SYM))
    (finding,) = result.violations
    ft = finding_trace(result, finding)
    last = ft.trace[-1].state
    assert ft.failed is not None and ft.failed.name == "AppendEntries"
    # The stored representative differs from the concrete state the trace reaches: the
    # finding's own action names other servers, the reported one is renamed to match.
    assert result.state(finding.state) != last and finding.action != ft.failed
    with pytest.raises(IndexError, match=f"boom: {ft.failed.args[0]}->{ft.failed.args[1]}"):
        result.spec.apply(last, ft.failed)
    (row,) = [r for r in property_statuses(result) if r["kind"] == "error"]
    assert row["error"].startswith(f"{ft.failed}: IndexError: boom: {ft.failed.args[0]}->{ft.failed.args[1]}")


def test_under_symmetry_header_json_and_trace_name_one_action(tmp_path: Path) -> None:
    path = spec_file(tmp_path)
    doc = json.loads(check(*sym_args(path, "RaisesInAppendEntries"), "--json", "--dump-traces", str(tmp_path / "traces")).stdout)
    (row,) = [r for r in doc["properties"] if r["kind"] == "error"]
    lines = check(*sym_args(path, "RaisesInAppendEntries")).stdout.splitlines()
    at = next(k for k, line in enumerate(lines) if re.fullmatch(r"ActionRaised violated after \d+ steps:", line))
    action = lines[at + 1].strip().split(":")[0]
    assert row["error"].startswith(action + ": IndexError")
    # The action named is the one that raises in the last state of the trace written.
    _, trace = read_itf(Path(row["trace_file"]))
    with pytest.raises(IndexError):
        RaisesInAppendEntries(SYM).apply(trace[-1].state, _parse(action))
    raised = [line for line in lines if line.startswith("  !  ")]
    assert len(raised) == 1 and raised[0].startswith(f"  !  {action} raised IndexError")


def _parse(text: str) -> Action:
    name, _, rest = text.partition("(")
    return Action(name, tuple(int(x) for x in rest.rstrip(")").split(", ")))


# ------------------------------------------------- 2. the raising action is not a step


def test_the_trace_ends_in_the_state_where_the_action_raised() -> None:
    result = explore(RaisesInBecomeLeader(TINY))
    (finding,) = result.violations
    ft = finding_trace(result, finding)
    # Eight real steps lead to a candidate with a quorum of votes; BecomeLeader raises there.
    assert len(ft.trace) - 1 == 8 == ft.steps
    assert ft.trace[-1].state == result.state(finding.state)
    assert all(step.action is None or step.action.name != "BecomeLeader" for step in ft.trace)
    assert ft.failed is not None and ft.failed.name == "BecomeLeader"
    assert ft.error is not None and ft.error.startswith("IndexError: boom: server")
    (row,) = [r for r in property_statuses(result) if r["kind"] == "error"]
    assert row["depth"] == 8  # as TLC counts: the behaviour up to the state where evaluation failed


def test_the_cli_prints_the_raising_action_on_its_own_line_and_itf_holds_real_states(tmp_path: Path) -> None:
    path = spec_file(tmp_path)
    result = check("--preset", "tiny", "--spec", f"{path}:RaisesInBecomeLeader", "--dump-traces", "traces")
    assert result.exit_code == 1
    out = result.stdout
    assert "ActionRaised violated after 8 steps:" in out
    assert "(no change)" not in out
    lines = out.splitlines()
    numbered = [line for line in lines if line[:3].strip().isdigit()]
    assert int(numbered[-1][:3]) == 8
    raised = [line for line in lines if line.startswith("  !  ")]
    assert len(raised) == 1 and raised[0].startswith("  !  BecomeLeader(") and "raised IndexError: boom" in raised[0]
    meta, trace = read_itf(Path("traces/counterexample-ActionRaised.itf.json"))
    assert len(trace) == 9
    spec = RaisesInBecomeLeader(TINY)
    for prev, step in zip(trace, trace[1:]):
        assert step.action is not None and spec.apply(prev.state, step.action) == step.state
    assert meta["raised"]["action"].startswith("BecomeLeader(") and meta["raised"]["error"].startswith("IndexError")


# ------------------------------------------------- 3. --continue after an exception


def test_continue_explores_the_other_successors_and_says_incomplete() -> None:
    result = explore(RaisesInBecomeLeader(TINY), stop_on_violation=False)
    disabled = explore(NeverLeader(TINY), stop_on_violation=False)
    # Every successor but the raising ones is explored: the states are those of the spec
    # in which the raising action is disabled, and the states it raised in are counted.
    assert result.distinct_states == disabled.distinct_states
    spec = disabled.spec
    raising = sum(
        1 for k in range(disabled.distinct_states) if any(RaftSpec.become_leader(spec, disabled.state(k), i) for i in spec.server_ids)
    )
    assert raising > 0 and result.unexpanded_states == raising
    assert not result.complete and not result.ok
    statuses = {r["name"]: r["status"] for r in property_statuses(result)}
    assert "holds" not in statuses.values() and statuses["ActionRaised"] == "violated"
    assert statuses["ElectionSafety"] == "no-violation-so-far"


def test_continue_never_prints_complete_or_holds_after_an_exception(tmp_path: Path) -> None:
    path = spec_file(tmp_path)
    args = ["--preset", "tiny", "--spec", f"{path}:RaisesInBecomeLeader", "--continue"]
    out = check(*args).stdout
    assert "complete" not in out.replace("incomplete", "") and "holds" not in out
    assert "incomplete: actions raised in" in out
    doc = json.loads(check(*args, "--json").stdout)
    assert doc["complete"] is False and doc["unexpanded_states"] > 0
    assert doc["incomplete_because"] == "actions raised"


# ------------------------------------------------- 4. ambiguous labels


class TimeoutWithTwoOutcomes(RaftSpec):
    """A variant whose Timeout(i) has a second, broken branch under the same label.

    The second branch also sets commit_index past the end of the log, which breaks
    CommitWithinLog at once; `apply(Timeout(i))` only knows the first branch.
    """

    name = "timeout-with-two-outcomes"

    def successors(self, s: State) -> Iterator[tuple[Action, State]]:
        for action, t in super().successors(s):
            yield action, t
            if action.name == "Timeout" and s.servers[0].current_term == 1:
                (i,) = action.args
                assert isinstance(i, int)
                srv = t.servers[i]._replace(commit_index=1)
                yield action, State(t.servers[:i] + (srv,) + t.servers[i + 1 :], t.messages)


@pytest.mark.parametrize("params", [TINY, Params(servers=2, values=1, max_term=2, max_log=1, symmetry=True)], ids=["plain", "symmetry"])
def test_an_ambiguous_label_is_rebuilt_by_the_state_it_reached(params: Params) -> None:
    result = explore(TimeoutWithTwoOutcomes(params), properties=[p for p in PROPERTIES if p.name == "CommitWithinLog"])
    (finding,) = result.violations
    ft = finding_trace(result, finding)
    assert not commit_within_log(result.spec, ft.trace[-1].state)
    for prev, step in zip(ft.trace, ft.trace[1:]):
        assert (step.action, step.state) in list(result.spec.successors(prev.state))


def test_a_trace_that_cannot_be_rebuilt_fails_loudly() -> None:
    result = explore(TimeoutWithTwoOutcomes(TINY), properties=[p for p in PROPERTIES if p.name == "CommitWithinLog"])
    (finding,) = result.violations
    result.spec = RaftSpec(TINY)  # the spec the search ran no longer reaches the stored state
    with pytest.raises(TraceError, match=r"step 1: no successor of Timeout\(\d\) .*stored state"):
        trace_to(result, finding.state)
