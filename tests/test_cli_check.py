"""`leaderfollower check` from the outside: exit codes, the JSON document, traces, exports, errors.

Most runs go through click's CliRunner (in process, fast); one goes through the
installed console script.  Every run works in a temporary folder, so that a test
can see that `check` writes nothing there unless told to (`--dump-traces`).
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import networkx as nx
import pytest
from click.testing import CliRunner, Result

from support.cli import check

from leaderfollower.checker.cli.main import main
from leaderfollower.checker.formats.itf import read_itf
from leaderfollower.spec.params import Params
from leaderfollower.spec.properties import no_uncommitted_read
from leaderfollower.spec.variants import LIVENESS_VARIANTS, VARIANTS

TINY_STATES, TINY_TRANSITIONS, TINY_DIAMETER = 1645, 6610, 27


pytestmark = pytest.mark.usefixtures("in_tmp")



def write_user_spec(tmp_path: Path, source: str, name: str = "my_variant.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


# ----------------------------------------------------------------- success


def test_check_tiny_exits_zero_and_prints_the_summary() -> None:
    result = check("--preset", "tiny")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "1,645" in out and "6,610" in out
    for name in ("ElectionSafety", "LogMatching", "LeaderCompleteness", "StaleFollowerRead", "LeaderAppendOnly"):
        assert name in out
    assert "DropStaleResponse  (never fired)" in out  # coverage flags an action that never fired


def test_json_document() -> None:
    result = check("--preset", "tiny", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["distinct_states"] == TINY_STATES
    assert doc["transitions"] == TINY_TRANSITIONS
    assert doc["diameter"] == TINY_DIAMETER
    assert isinstance(doc["seconds"], (int, float)) and doc["seconds"] >= 0
    assert doc["ok"] is True and doc["complete"] is True
    statuses = {p["name"]: (p["kind"], p["status"]) for p in doc["properties"]}
    assert statuses["ElectionSafety"] == ("always", "holds")
    assert statuses["TermNeverDecreases"] == ("action", "holds")
    assert statuses["ValueCommitted"] == ("sometimes", "witnessed")
    assert statuses["EntryCommitsOrLeaderStepsDown"] == ("leads_to", "holds")
    assert {kind for kind, _ in statuses.values()} == {"always", "sometimes", "action", "leads_to"}
    assert doc["coverage"]["Restart"]["enabled"] == 2 * TINY_STATES


def test_parameters_on_the_command_line_override_the_preset() -> None:
    result = check("--preset", "default", "--servers", "2", "--max-term", "2", "--max-log", "1", "--symmetry", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["distinct_states"] == 831
    assert doc["params"]["servers"] == 2 and doc["params"]["symmetry"] is True


def test_quiet_prints_nothing() -> None:
    result = check("--preset", "tiny", "--quiet")
    assert result.exit_code == 0 and result.stdout == "" and result.stderr == ""


def test_list_specs() -> None:
    result = check("--list-specs")
    assert result.exit_code == 0
    assert result.stdout.split() == ["raft", *VARIANTS, *LIVENESS_VARIANTS]


def test_console_script(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "leaderfollower"
    done = subprocess.run([str(exe), "check", "--preset", "tiny", "--json"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["distinct_states"] == TINY_STATES


# ----------------------------------------------------------------- violations


def test_a_variant_exits_one_with_a_numbered_trace_and_an_itf_file(tmp_path: Path) -> None:
    # With room for a log entry, the half quorum first lets a lone leader commit a value
    # no majority holds (NoUncommittedRead judges by a majority, whatever the spec's rule).
    traces = tmp_path / "traces"
    result = check("--preset", "tiny", "--spec", "non-majority-quorum", "--dump-traces", str(traces))
    assert result.exit_code == 1
    out = result.stdout
    assert "NoUncommittedRead violated after 7 steps" in out
    lines = out.splitlines()
    start = lines.index("  0  Init")
    numbered = [line for line in lines[start:] if line[:3].strip().isdigit()]
    assert [int(line[:3]) for line in numbered] == list(range(8))
    assert numbered[1].startswith("  1  Timeout(")
    path = traces / "counterexample-NoUncommittedRead.itf.json"
    # (rich wraps long lines at 80 columns when stdout is not a terminal, path included)
    assert f"trace written to {path}" in out.replace("\n", "")
    meta, trace = read_itf(path)
    assert meta["spec"] == "non-majority-quorum" and len(trace) == 8
    spec = VARIANTS["non-majority-quorum"](Params(**meta["params"]))
    for prev, step in zip(trace, trace[1:]):
        assert spec.apply(prev.state, step.action) == step.state  # type: ignore[arg-type]
    assert not no_uncommitted_read(spec, trace[-1].state)
    # Witnesses are written too when --dump-traces is given.
    assert (traces / "witness-LeaderElected.itf.json").exists()


@pytest.mark.parametrize("as_json", [True, False])
def test_a_violation_without_dump_traces_writes_nothing_to_the_working_folder(in_tmp: Path, as_json: bool) -> None:
    result = check("--preset", "tiny", "--spec", "non-majority-quorum", *(["--json"] if as_json else []))
    assert result.exit_code == 1
    if as_json:
        doc = json.loads(result.stdout)
        row = next(p for p in doc["properties"] if p["name"] == "NoUncommittedRead")
        assert row["status"] == "violated" and row["depth"] == 7 and "trace_file" not in row
        assert doc["ok"] is False and doc["complete"] is False and doc["verdict"] == "violated"
    else:
        assert "NoUncommittedRead violated after 7 steps" in result.stdout and "trace written" not in result.stdout
    assert list(in_tmp.iterdir()) == []


def test_a_user_variant_file_is_loaded_and_caught(tmp_path: Path) -> None:
    path = write_user_spec(
        tmp_path,
        """
        from leaderfollower.spec.raft import RaftSpec

        class HalfIsEnough(RaftSpec):
            name = "half-is-enough"

            def is_quorum(self, members):
                return 2 * len(members) >= self.params.servers
        """,
    )
    result = check("--preset", "tiny", "--spec", f"{path}:HalfIsEnough", "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["spec"] == "half-is-enough"
    assert [p["name"] for p in doc["properties"] if p["status"] == "violated"] == ["NoUncommittedRead"]


def test_a_user_variant_that_changes_nothing_passes_with_the_same_counts(tmp_path: Path) -> None:
    path = write_user_spec(
        tmp_path,
        """
        from leaderfollower.spec.raft import RaftSpec

        class SameAsRaft(RaftSpec):
            name = "same-as-raft"

            def timeout(self, s, i):
                return super().timeout(s, i)
        """,
    )
    result = check("--preset", "tiny", "--spec", f"{path}:SameAsRaft", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert (doc["spec"], doc["distinct_states"], doc["transitions"]) == ("same-as-raft", TINY_STATES, TINY_TRANSITIONS)


def test_an_exception_in_a_user_action_is_reported_with_the_action(tmp_path: Path) -> None:
    path = write_user_spec(
        tmp_path,
        """
        from leaderfollower.spec.raft import RaftSpec

        class Crashes(RaftSpec):
            def client_request(self, s, i, v):
                if s.servers[i].role == "Leader":
                    return [][1]
                return None
        """,
    )
    result = check("--preset", "tiny", "--spec", f"{path}:Crashes")
    assert result.exit_code == 1
    assert "ActionRaised violated" in result.stdout
    assert "ClientRequest(" in result.stdout and "IndexError: list index out of range" in result.stdout


def test_a_deadlock_is_reported(tmp_path: Path) -> None:
    path = write_user_spec(
        tmp_path,
        """
        from leaderfollower.spec.raft import RaftSpec

        class Frozen(RaftSpec):
            def successors(self, s):
                if any(srv.current_term > 1 for srv in s.servers):
                    return iter(())
                return super().successors(s)
        """,
    )
    result = check("--preset", "tiny", "--spec", f"{path}:Frozen")
    assert result.exit_code == 1
    assert "deadlock" in result.stdout and "2 state(s) with no enabled action" in result.stdout


# ----------------------------------------------------------------- exports


def test_dump_graph_graphml(tmp_path: Path) -> None:
    path = tmp_path / "x.graphml"
    result = check("--preset", "tiny", "--quiet", "--dump-graph", str(path))
    assert result.exit_code == 0
    g = nx.read_graphml(path, force_multigraph=True)
    assert g.number_of_nodes() == TINY_STATES and g.number_of_edges() == TINY_TRANSITIONS
    actions = {d["name"] for _, _, d in g.edges(data=True)}
    assert {"Timeout", "Restart", "BecomeLeader", "HandleAppendEntriesRequest"} <= actions


def test_dump_graph_dot(tmp_path: Path) -> None:
    path = tmp_path / "x.dot"
    result = check("--preset", "tiny", "--quiet", "--dump-graph", str(path))
    assert result.exit_code == 0
    lines = path.read_text().splitlines()
    assert lines[0] == "digraph states {" and lines[-1] == "}"
    assert sum(" -> " in line for line in lines) == TINY_TRANSITIONS
    assert sum(line.lstrip().split(" ")[0].isdigit() and "->" not in line for line in lines) == TINY_STATES


# ----------------------------------------------------------------- input errors


NOT_A_SPEC = """
class NotASpec:
    pass
"""
BROKEN_FILE = """
from leaderfollower.spec.raft import RaftSpec
class Oops(RaftSpec)
    pass
"""


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--spec", "nope"], "unknown spec 'nope'"),
        (["--servers", "0"], "parameter servers: expected at least 1, got 0"),
        (["--servers", "8"], "parameter servers: expected at most 7, got 8"),
        (["--max-log", "-1"], "parameter max_log: expected at least 0, got -1"),
        (["--preset", "huge"], "unknown preset 'huge'"),
        (["--spec", "{tmp}/missing.py:Foo"], "missing.py does not exist"),
        (["--spec", "{tmp}/not_a_spec.py:NotASpec"], "NotASpec is not a subclass of leaderfollower.spec.raft.RaftSpec"),
        (["--spec", "{tmp}/not_a_spec.py:Absent"], "has no class Absent"),
        (["--spec", "{tmp}/broken.py:Oops"], "importing {tmp}/broken.py failed: SyntaxError"),
        (["--spec", "no_such_module_xyz:Foo"], "cannot import module no_such_module_xyz"),
        (["--dump-graph", "g.dot", "--no-graph"], "--dump-graph needs the graph"),
        (["--dump-graph", "{tmp}/g.png"], "unknown extension .png"),
    ],
    ids=[
        "unknown-spec",
        "servers-zero",
        "servers-too-many",
        "negative-max-log",
        "unknown-preset",
        "missing-file",
        "not-a-raftspec",
        "no-such-class",
        "syntax-error",
        "no-such-module",
        "graph-without-graph",
        "bad-graph-extension",
    ],
)
def test_bad_input_exits_two_with_one_line(tmp_path: Path, args: list[str], expected: str) -> None:
    (tmp_path / "not_a_spec.py").write_text(NOT_A_SPEC)
    (tmp_path / "broken.py").write_text(BROKEN_FILE)
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = check("--preset", "tiny", "--quiet", *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("leaderfollower: error: ")
    assert expected.replace("{tmp}", str(tmp_path)) in lines[0]


def test_a_non_integer_option_is_a_usage_error() -> None:
    result = check("--preset", "tiny", "--max-term", "abc")
    assert result.exit_code == 2
    assert "Invalid value for '--max-term': 'abc' is not a valid integer" in result.stderr
