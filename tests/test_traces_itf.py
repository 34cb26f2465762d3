"""Traces: shortest traces replay to the state they end in; ITF files round-trip; bad files are named.

Traces from `trace_to` are replayed with `RaftSpec.apply` alone (no explorer), for
random stored states, with and without symmetry (where the stored state is an
orbit representative and the trace must be made concrete).  ITF documents are
written, read back and compared step by step; corrupt files must fail with one
line that names the state.
"""
from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leaderfollower.checker.explore.result import ExploreResult
from leaderfollower.checker.explore.search import explore
from leaderfollower.checker.formats.itf import TraceFormatError, read_itf, to_itf, write_itf
from leaderfollower.checker.explore.traces import Step, TraceError, format_trace, replay, trace_to
from leaderfollower.spec.params import Params
from leaderfollower.spec.actions import Action
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import Entry

# Models to draw traces from: (params, max_states).  The three-server ones are cut
# short (the stored prefix of a BFS is still made of shortest paths).
MODELS = {
    "tiny": (Params(servers=2, values=1, max_term=2, max_log=1), None),
    "tiny-symmetry": (Params(servers=2, values=1, max_term=2, max_log=1, symmetry=True), None),
    "two-values": (Params(servers=2, values=2, max_term=2, max_log=2, max_copies=2), None),
    "three-symmetry": (Params(servers=3, values=1, max_term=2, max_log=1, symmetry=True), 30_000),
    "three": (Params(servers=3, values=2, max_term=3, max_log=1), 20_000),
}


@functools.lru_cache(maxsize=None)
def model(name: str) -> ExploreResult:
    params, cap = MODELS[name]
    return explore(RaftSpec(params), keep_graph=False, max_states=cap)


@st.composite
def stored_state(draw: st.DrawFn) -> tuple[ExploreResult, int]:
    result = model(draw(st.sampled_from(sorted(MODELS))))
    # Bias towards the deepest states, where the long traces are.
    sid = draw(st.one_of(st.integers(0, result.distinct_states - 1), st.integers(max(0, result.distinct_states - 200), result.distinct_states - 1)))
    return result, sid


def check_replays(result: ExploreResult, sid: int, trace: list[Step]) -> None:
    spec = result.spec
    assert trace[0].action is None and trace[0].state == spec.init()
    for prev, step in zip(trace, trace[1:]):
        assert step.action is not None
        assert spec.apply(prev.state, step.action) == step.state, step.action
        assert spec.within_bounds(step.state)
    assert len(trace) - 1 == result.depth[sid]  # shortest
    last = trace[-1].state
    if spec.params.symmetry:
        assert result.canonical_key(last) == result.key(sid)
    else:
        assert last == result.state(sid)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stored_state())
def test_trace_to_replays_to_the_stored_state(picked: tuple[ExploreResult, int]) -> None:
    result, sid = picked
    trace = trace_to(result, sid)
    check_replays(result, sid, trace)
    again = replay(result.spec, [step.action for step in trace[1:]])  # type: ignore[misc]
    assert again == trace


def test_trace_to_every_state_of_the_symmetric_tiny_model() -> None:
    result = model("tiny-symmetry")
    for sid in range(result.distinct_states):
        check_replays(result, sid, trace_to(result, sid))


def test_replay_names_the_first_step_that_is_not_enabled() -> None:
    spec = RaftSpec(MODELS["tiny"][0])
    with pytest.raises(TraceError, match=r"step 2: BecomeLeader\(0\) is not enabled"):
        replay(spec, [Action("Timeout", (0,)), Action("BecomeLeader", (0,))])


# ----------------------------------------------------------------- ITF round trip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stored_state())
def test_itf_round_trip(picked: tuple[ExploreResult, int]) -> None:
    result, sid = picked
    trace = trace_to(result, sid)
    params = result.spec.params
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.itf.json"
        write_itf(path, trace, params, result.spec.name, "round trip")
        meta, back = read_itf(path)
    assert back == trace
    assert meta["params"] == params.to_dict() and meta["spec"] == "raft" and meta["format"] == "ITF"


def test_itf_round_trip_keeps_values_booleans_and_entries(tmp_path: Path) -> None:
    # A trace through every kind of argument: a client request for value 1, an
    # AppendEntries carrying that entry, and granted votes (booleans, not integers).
    result = model("two-values")
    spec = result.spec

    def wanted(s: Any) -> bool:
        return any(m.mtype == "AppendEntriesRequest" and m.mentries and m.mentries[0].value == 1 for m, _ in s.messages)

    sid = next(k for k in range(result.distinct_states) if wanted(result.state(k)))
    trace = trace_to(result, sid)
    path = tmp_path / "rich.itf.json"
    write_itf(path, trace, spec.params, spec.name)
    _, back = read_itf(path)
    assert back == trace
    actions = [step.action for step in back[1:]]
    assert any(a.name == "ClientRequest" and a.args[1] == 1 for a in actions)  # type: ignore[union-attr]
    granted = [m.mvote_granted for step in back for m, _ in step.state.messages if m.mtype == "RequestVoteResponse"]
    assert True in granted and all(type(g) is bool for g in granted)
    doc = json.loads(path.read_text())
    assert doc["vars"][:10] == ["currentTerm", "state", "votedFor", "log", "commitIndex", "votesResponded", "votesGranted", "nextIndex", "matchIndex", "messages"]
    assert doc["states"][0]["mbt::actionTaken"] == "init"
    assert doc["states"][0]["votedFor"]["#map"][0] == [{"#bigint": "0"}, "Nil"]
    assert all(doc["states"][k]["#meta"]["index"] == k for k in range(len(doc["states"])))


# ----------------------------------------------------------------- corrupt files


def _good_doc() -> dict[str, Any]:
    result = model("tiny")
    sid = next(k for k in range(result.distinct_states) if result.depth[k] == 6 and result.state(k).messages)
    trace = trace_to(result, sid)
    return to_itf(trace, result.spec.params, "raft")


def _write(tmp_path: Path, doc: Any, raw: str | None = None) -> Path:
    path = tmp_path / "bad.itf.json"
    path.write_text(raw if raw is not None else json.dumps(doc))
    return path


def _one_line_error(path: Path) -> str:
    with pytest.raises(TraceFormatError) as info:
        read_itf(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_bad_json_is_one_line_with_the_position(tmp_path: Path) -> None:
    message = _one_line_error(_write(tmp_path, None, raw='{"states": [ {"currentTerm": }'))
    assert "not valid JSON" in message and ":1:" in message


def test_a_missing_variable_names_the_state_index(tmp_path: Path) -> None:
    doc = _good_doc()
    del doc["states"][3]["log"]
    message = _one_line_error(_write(tmp_path, doc))
    assert "state 3" in message and "log" in message


def test_an_unknown_message_type_names_the_state_index(tmp_path: Path) -> None:
    doc = _good_doc()
    k = next(i for i, s in enumerate(doc["states"]) if s["messages"]["#map"])
    doc["states"][k]["messages"]["#map"][0][0]["mtype"] = "InstallSnapshot"
    message = _one_line_error(_write(tmp_path, doc))
    assert f"state {k}" in message and "unknown message type 'InstallSnapshot'" in message


@pytest.mark.parametrize(
    "corrupt, expected",
    [
        (lambda d: d["states"][2].__setitem__("mbt::actionTaken", "Teleport"), "state 2: mbt::actionTaken: unknown action 'Teleport'"),
        (lambda d: d["states"][1]["state"]["#map"][0].__setitem__(1, "King"), "state 1: state: 'King' is not one of"),
        (lambda d: d["states"][4]["currentTerm"].__setitem__("#map", d["states"][4]["currentTerm"]["#map"][:1]), "state 4: currentTerm: expected a value for each of the 2 servers"),
        (lambda d: d["states"][5]["commitIndex"]["#map"][0].__setitem__(1, {"#bigint": "x"}), "state 5: commitIndex: 'x' is not an integer"),
        (lambda d: d["states"][0].__setitem__("mbt::actionTaken", "Timeout"), "state 0: the first state must be the initial one"),
    ],
    ids=["unknown-action", "unknown-role", "missing-server", "not-an-integer", "no-init"],
)
def test_other_corruptions_name_the_state(tmp_path: Path, corrupt: Any, expected: str) -> None:
    doc = _good_doc()
    corrupt(doc)
    assert expected in _one_line_error(_write(tmp_path, doc))


def test_not_an_itf_document(tmp_path: Path) -> None:
    assert "not an ITF trace" in _one_line_error(_write(tmp_path, {"states": []}))
    missing = tmp_path / "missing.itf.json"
    with pytest.raises(TraceFormatError, match="cannot read"):
        read_itf(missing)


# ----------------------------------------------------------------- printing


def test_format_trace_numbers_the_steps_and_shows_only_what_changed() -> None:
    spec = RaftSpec(MODELS["tiny"][0])
    trace = replay(spec, [Action("Timeout", (0,)), Action("RequestVote", (0, 1)), Action("Restart", (1,))])
    text = format_trace(trace)
    lines = text.splitlines()
    assert lines[0] == "  0  Init"
    assert "  1  Timeout(0)" in lines
    assert "       s0: current_term 1 -> 2; role Follower -> Candidate" in lines
    assert "  2  RequestVote(0, 1)" in lines
    assert any(line.startswith("       net + RequestVoteRequest 0->1 term=2") for line in lines)
    assert lines[-2:] == ["  3  Restart(1)", "       (no change)"]
    # Unchanged variables are not repeated after the initial state.
    after_init = text.split("  1  Timeout(0)")[1]
    assert "voted_for" not in after_init and "s1:" not in after_init


def test_entries_are_records_of_term_and_value() -> None:
    spec = RaftSpec(Params(servers=1, values=2, max_term=2, max_log=1))
    trace = replay(spec, [Action("Timeout", (0,)), Action("RequestVote", (0, 0))])
    s = trace[-1].state
    leader = s.servers[0]._replace(role="Leader", log=(Entry(2, 1),))
    doc = to_itf([Step(None, s._replace(servers=(leader,)))], spec.params, "raft")
    assert doc["states"][0]["log"]["#map"][0][1] == [{"term": {"#bigint": "2"}, "value": {"#bigint": "1"}}]
