"""The trace validator on hand-made logs: a good run is accepted; each kind of mismatch is
reported at the right step with the reason; a corrupt line is a one-line error naming the
file and line (exit 2)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from click.testing import CliRunner

from leaderfollower.checker.cli.main import main
import pytest

from leaderfollower.checker.validate.validator import LogFormatError, ValidationResult, Validator, read_events, validate
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import ServerId

# ------------------------------------------------------------------ log builders


def rv_req(term: int, src: int, dst: int, last_term: int = 0, last_index: int = 0) -> dict[str, Any]:
    return {"mtype": "RequestVoteRequest", "mterm": term, "mlastLogTerm": last_term, "mlastLogIndex": last_index,
            "msource": src, "mdest": dst}


def rv_resp(term: int, granted: bool, src: int, dst: int) -> dict[str, Any]:
    return {"mtype": "RequestVoteResponse", "mterm": term, "mvoteGranted": granted, "msource": src, "mdest": dst}


def restart(node: int, term: int = 1, vote: Optional[int] = None, log: list[Any] = [], b: int = 0,
            **options: Any) -> dict[str, Any]:
    return {"node": node, "b": b, "action": "NodeStart", "args": [node], "servers": 3, "max_entries_per_append": 1,
            "recovered": {"term": term, "vote": vote, "log": log}, **options}


def step(node: int, action: str, *args: Any, b: int = 1, **fields: Any) -> dict[str, Any]:
    return {"node": node, "b": b, "action": action, "args": list(args), **fields}


def state(term: int, role: str, vote: Optional[ServerId], log: int = 0, commit: int = 0) -> dict[str, Any]:
    return {"term": term, "role": role, "vote": vote, "log": log, "commit": commit}


def election() -> list[dict[str, Any]]:
    """Node 0 wins term 2 with node 1's vote, then takes a client request."""
    return [
        restart(0), restart(1), restart(2),
        step(0, "Timeout", 0, sent=[], state=state(2, "Candidate", None)),
        step(0, "RequestVote", 0, 0, sent=[rv_req(2, 0, 0)]),
        step(0, "RequestVote", 0, 1, sent=[rv_req(2, 0, 1)]),
        step(0, "HandleRequestVoteRequest", rv_req(2, 0, 0), b=2, sent=[rv_resp(2, True, 0, 0)],
             state=state(2, "Candidate", 0)),
        step(1, "UpdateTerm", rv_req(2, 0, 1), sent=[], state=state(2, "Follower", None)),
        step(1, "HandleRequestVoteRequest", rv_req(2, 0, 1), sent=[rv_resp(2, True, 1, 0)], state=state(2, "Follower", 0)),
        step(0, "HandleRequestVoteResponse", rv_resp(2, True, 0, 0), b=3),
        step(0, "HandleRequestVoteResponse", rv_resp(2, True, 1, 0), b=3),
        step(0, "BecomeLeader", 0, b=3, state=state(2, "Leader", 0)),
        step(0, "ClientRequest", 0, "6b31", b=3, state=state(2, "Leader", 0, log=1)),
    ]


def write_log(folder: Path, events: list[dict[str, Any]]) -> Path:
    """One file per node, as the nodes write them; `t` is the position in `events` (the merge order)."""
    folder.mkdir(exist_ok=True)
    files: dict[int, list[str]] = {}
    for t, e in enumerate(events):
        files.setdefault(e["node"], []).append(json.dumps({"t": 1000 + t, **e}))
    for node, lines in files.items():
        (folder / f"node{node}.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def check(tmp_path: Path, events: list[dict[str, Any]]) -> ValidationResult:
    return validate([write_log(tmp_path / "trace", events)])


# ------------------------------------------------------------------ accepted


def test_a_good_log_is_a_behaviour_of_the_spec(tmp_path: Path) -> None:
    result = check(tmp_path, election())
    assert result.ok, str(result.mismatch)
    assert result.steps == 13 and result.restarts == 3 and result.actions["BecomeLeader"] == 1


def test_files_are_merged_by_time_not_by_file(tmp_path: Path) -> None:
    folder = write_log(tmp_path / "trace", election())
    events = read_events([folder / "node1.jsonl", folder / "node0.jsonl", folder / "node2.jsonl"])
    assert [e.t for e in events] == sorted(e.t for e in events)
    assert Validator(events).run().ok


def test_cli_accepts_a_good_log(tmp_path: Path) -> None:
    folder = write_log(tmp_path / "trace", election())
    out = CliRunner().invoke(main, ["validate", str(folder)])
    assert out.exit_code == 0, out.output
    assert out.output.startswith("VALID: 13 steps from 3 file(s)")


def test_discarding_a_message_that_a_handler_takes(tmp_path: Path) -> None:
    events = election()[:6] + [step(1, "Discard", rv_req(2, 0, 1))]
    result = check(tmp_path, events)
    assert result.mismatch is not None and result.mismatch.step == 7
    assert result.mismatch.why == "the node discarded a message that the spec takes with UpdateTerm"


def test_spec_action_names_of_node_events_are_refused(tmp_path: Path) -> None:
    """A log line cannot name the spec's Restart or DropMessage: a node logs NodeStart and Discard."""
    for name in ("Restart", "DropMessage"):
        events = election() + [step(1, name, 1)]
        with pytest.raises(LogFormatError, match=f"unknown action \"{name}\""):
            check(tmp_path, events)


def test_a_batch_cut_short_by_the_byte_budget_is_the_spec_with_smaller_batches(tmp_path: Path) -> None:
    """Nodes that bound AppendEntries by bytes (issue 15, bug 3) send fewer entries than max_entries_per_append."""
    def run(budget: Optional[int]) -> ValidationResult:
        options = {"max_entries_per_append": 2, "max_bytes_per_append": budget}
        events = [restart(k, **options) for k in range(3)] + election()[3:] + [
            step(0, "ClientRequest", 0, "6b32", b=3, state=state(2, "Leader", 0, log=2)),
            step(0, "AppendEntries", 0, 1, b=3, sent=[{
                "mtype": "AppendEntriesRequest", "mterm": 2, "mprevLogIndex": 0, "mprevLogTerm": 0,
                "mentries": [{"term": 2, "value": "6b31"}], "mcommitIndex": 0, "msource": 0, "mdest": 1}]),
        ]
        return check(tmp_path, events)

    assert run(1).ok
    refused = run(None)
    assert refused.mismatch is not None and refused.mismatch.event.action == "AppendEntries"
    assert "successor differs from what the node logged: sent" in refused.mismatch.why


# ------------------------------------------------------------------ mismatches


def test_a_message_not_in_flight(tmp_path: Path) -> None:
    events = election()
    events[7] = step(1, "UpdateTerm", rv_req(3, 0, 1), sent=[], state=state(3, "Follower", None))
    result = check(tmp_path, events)
    assert result.mismatch is not None and result.mismatch.step == 8
    assert result.mismatch.event.node == 1 and result.mismatch.event.action == "UpdateTerm"
    assert "message not in flight" in result.mismatch.why


def test_an_action_not_enabled(tmp_path: Path) -> None:
    events = election()
    events.insert(9, step(0, "BecomeLeader", 0, b=3))  # one vote (its own) is no quorum
    result = check(tmp_path, events)
    assert result.mismatch is not None and result.mismatch.step == 10
    assert result.mismatch.why == "not enabled: node 0 is Candidate in term 2"


def test_the_wrong_handler(tmp_path: Path) -> None:
    events = election()
    events[9] = step(0, "DropStaleResponse", rv_resp(2, True, 0, 0), b=3)
    result = check(tmp_path, events)
    assert result.mismatch is not None and result.mismatch.step == 10
    assert "the spec handles this message with HandleRequestVoteResponse" in result.mismatch.why


def test_a_successor_that_differs_from_what_the_node_logged(tmp_path: Path) -> None:
    # Node 1 refuses a vote the spec grants (and says so in its reply and its state).
    events = election()
    events[8] = step(1, "HandleRequestVoteRequest", rv_req(2, 0, 1), sent=[rv_resp(2, False, 1, 0)],
                     state=state(2, "Follower", None))
    result = check(tmp_path, events)
    assert result.mismatch is not None and result.mismatch.step == 9
    why = result.mismatch.why
    assert why.startswith("successor differs from what the node logged: vote: spec 0, node None")
    assert "vote_granted=True" in why and "vote_granted=False" in why
    assert str(result.mismatch).startswith(f"step 9 ({tmp_path / 'trace' / 'node1.jsonl'}:3): node 1 HandleRequestVoteRequest(")


def test_a_restart_that_lost_an_acknowledged_vote(tmp_path: Path) -> None:
    # Node 1 voted (batch 1), answered a second copy of the request in a later batch (so the
    # vote was on its disk before that batch), and yet recovers no vote.
    events = election()[:9] + [
        step(0, "RequestVote", 0, 1, b=2, sent=[rv_req(2, 0, 1)]),
        step(1, "HandleRequestVoteRequest", rv_req(2, 0, 1), b=2, sent=[rv_resp(2, True, 1, 0)]),
        restart(1, term=2, vote=None),
    ]
    result = check(tmp_path, events)
    assert result.mismatch is not None and result.mismatch.step == 12
    assert result.mismatch.why.startswith(
        "the node recovered term 2, vote none, log of 0 entries (last term 0) from its storage, but the spec's"
        " persistent state of node 1 is term 2, vote 0,"
    )


def test_a_batch_logged_but_not_persisted_before_a_kill_is_undone(tmp_path: Path) -> None:
    # Node 1 is killed after logging the batch that votes, before the vote reached its disk: it
    # recovers term 1 and no vote.  Its reply was never sent, so the log must not receive it.
    events = election()[:9] + [restart(1)]
    result = check(tmp_path, events)
    assert result.ok, str(result.mismatch)
    assert result.undone_batches == 1 and result.steps == 8
    events = election()[:9] + [restart(1), step(0, "HandleRequestVoteResponse", rv_resp(2, True, 1, 0), b=3)]
    result = check(tmp_path, events)
    assert result.mismatch is not None and "message not in flight" in result.mismatch.why


def test_a_partly_persisted_batch_keeps_what_reached_the_disk(tmp_path: Path) -> None:
    events = election()[:9] + [restart(1, term=2)]  # the term reached the disk, the vote did not
    result = check(tmp_path, events)
    assert result.ok and result.undone_batches == 1 and result.steps == 9


def test_applying_an_uncommitted_entry(tmp_path: Path) -> None:
    events = election() + [step(0, "Apply", 0, b=3, index=1, term=2, state=state(2, "Leader", 0, log=1))]
    result = check(tmp_path, events)
    assert result.mismatch is not None and result.mismatch.step == 14
    assert "commitIndex in the spec is 0: the entry is not committed" in result.mismatch.why


def test_an_invariant_violated_on_the_way(tmp_path: Path) -> None:
    class AnyoneLeads(RaftSpec):
        def is_quorum(self, members: frozenset[ServerId]) -> bool:
            return True

    events = [restart(0), restart(1), restart(2), step(0, "Timeout", 0), step(0, "BecomeLeader", 0),
              step(1, "Timeout", 1), step(1, "BecomeLeader", 1)]
    result = Validator(read_events([write_log(tmp_path / "trace", events)]), AnyoneLeads).run()
    assert result.mismatch is not None and result.mismatch.step == 7
    assert result.mismatch.why.startswith("invariant ElectionSafety (at most one leader per term) is violated")


def test_cli_reports_a_mismatch_with_exit_1(tmp_path: Path) -> None:
    events = election()
    events.insert(9, step(0, "BecomeLeader", 0, b=3))
    out = CliRunner().invoke(main, ["validate", str(write_log(tmp_path / "trace", events))])
    assert out.exit_code == 1
    assert out.output.startswith("MISMATCH at step 10 (") and "node 0 BecomeLeader(0): not enabled" in out.output


# ------------------------------------------------------------------ bad input


def test_a_corrupt_line_is_a_one_line_error_naming_file_and_line(tmp_path: Path) -> None:
    folder = write_log(tmp_path / "trace", election())
    path = folder / "node0.jsonl"
    lines = path.read_text().splitlines()
    lines[2] = lines[2][:25]
    path.write_text("\n".join(lines) + "\n")
    out = CliRunner().invoke(main, ["validate", str(folder)])
    assert out.exit_code == 2
    assert out.output.count("\n") == 1 and "Traceback" not in out.output
    assert out.output.startswith(f"leaderfollower: error: {path}:3: not valid JSON")


def test_bad_fields_are_named(tmp_path: Path) -> None:
    cases = [
        (step(0, "Teleport", 0), "unknown action \"Teleport\""),
        (step(0, "UpdateTerm", {"mtype": "RequestVoteRequest", "mterm": 2}), "RequestVoteRequest lacks field mlastLogTerm"),
        (step(0, "Timeout", 0, 1), "Timeout takes 1 argument(s), got 2"),
        (step(0, "ClientRequest", 0, [1]), "args[1]: a command value must be an integer or a hex string"),
    ]
    for k, (bad, expected) in enumerate(cases):
        folder = write_log(tmp_path / f"t{k}", [restart(0), bad])
        out = CliRunner().invoke(main, ["validate", str(folder)])
        assert out.exit_code == 2, out.output
        assert f"{folder / 'node0.jsonl'}:2" in out.output and expected in out.output, out.output


def test_a_log_without_restart_events_is_refused(tmp_path: Path) -> None:
    out = CliRunner().invoke(main, ["validate", str(write_log(tmp_path / "trace", [step(0, "Timeout", 0)]))])
    assert out.exit_code == 2 and "no NodeStart event says how many servers" in out.output
