"""The variant API as a user writing a bug from scratch meets it (issue 12).

- an action (here a message handler) may return several successors, its branches, without
  overriding `successors` or `apply`, and the memoised search still applies;
- `State` has public helpers to build successors (`with_server`, `update_server`,
  `with_message`, `without_message`, `reply`);
- properties have their own definitions: overriding the spec's `is_quorum` does not weaken
  NoUncommittedRead, which still catches the half-quorum bug;
- a `--spec FILE.py:Class` file can import a sibling module;
- `check --property NAME` and `--skip-property NAME` choose the properties checked.
"""
from __future__ import annotations

import json
import textwrap
from pathlib import Path
import pytest
from click.testing import CliRunner, Result

from support.cli import check

from leaderfollower.checker.cli.main import main
from leaderfollower.checker.explore.local_steps import usable
from leaderfollower.checker.explore.search import explore
from leaderfollower.checker.explore.traces import finding_trace
from leaderfollower.spec.actions import Action, ActionName
from leaderfollower.spec.params import Params
from leaderfollower.spec.properties import election_safety, property_by_name
from leaderfollower.spec.raft import AmbiguousAction, RaftSpec
from leaderfollower.spec.state import NIL, RequestVoteRequest, RequestVoteResponse, State, bag_add, bag_remove
from leaderfollower.spec.variants import NonMajorityQuorum


class SometimesForgetsItsVote(RaftSpec):
    """A voter answers as raft.tla does or, a second branch (the bug), as if it had not voted yet."""

    name = "sometimes-forgets-its-vote"
    local_actions = True  # the handler reads and changes only the recipient and the bag

    def handle_request_vote_request(self, s: State, m: RequestVoteRequest) -> list[State]:  # type: ignore[override]
        branches = []
        normal = super().handle_request_vote_request(s, m)
        if normal is not None:
            branches.append(normal)
        voter = s.servers[m.mdest]
        if voter.voted_for not in (NIL, m.msource):
            forgot = super().handle_request_vote_request(s.update_server(m.mdest, voted_for=NIL), m)
            if forgot is not None:
                branches.append(forgot)
        return branches


CATCH = Params(servers=3, values=1, max_term=2, max_log=0, max_copies=1, max_in_flight=1, symmetry=True)


# ------------------------------------------------------------ several successors


def test_a_handler_with_two_branches_is_explored_memoised_and_caught() -> None:
    spec = SometimesForgetsItsVote(CATCH)
    assert usable(spec)  # the memoised local steps still apply
    fast = explore(spec, keep_graph=False)
    slow = explore(spec, keep_graph=False, memoise=False)
    (finding,) = fast.violations
    assert finding.property == "ElectionSafety"
    assert (fast.distinct_states, fast.transitions) == (slow.distinct_states, slow.transitions)
    assert [f.property for f in slow.violations] == ["ElectionSafety"]
    trace = finding_trace(fast, finding).trace
    assert not election_safety(spec, trace[-1].state)
    for prev, step in zip(trace, trace[1:]):
        assert step.action is not None and step.state in spec.outcomes(prev.state, step.action)


def test_both_branches_are_successors_under_one_label_and_apply_refuses_to_choose() -> None:
    spec = SometimesForgetsItsVote(Params(servers=3))
    m = RequestVoteRequest("RequestVoteRequest", 1, 0, 0, 1, 0)
    s = spec.init().update_server(0, voted_for=2).with_message(m)
    action = Action(ActionName.HandleRequestVoteRequest, (m,))
    refused, granted = spec.outcomes(s, action)
    assert refused.servers[0].voted_for == 2 and granted.servers[0].voted_for == 1
    assert [(a, t) for a, t in spec.successors(s) if a == action] == [(action, refused), (action, granted)]
    assert spec.receive(s, m) == [(action, refused), (action, granted)]
    with pytest.raises(AmbiguousAction, match="2 successors"):
        spec.apply(s, action)


# ------------------------------------------------------------------ state helpers


def test_state_helpers_build_what_the_tuple_surgery_built() -> None:
    s = RaftSpec(Params(servers=3)).init()
    srv = s.servers[1]._replace(current_term=4)
    assert s.with_server(1, srv) == State((s.servers[0], srv, s.servers[2]), s.messages)
    assert s.update_server(1, current_term=4) == s.with_server(1, srv)
    m = RequestVoteRequest("RequestVoteRequest", 2, 0, 0, 0, 1)
    r = RequestVoteResponse("RequestVoteResponse", 2, True, 1, 0)
    assert s.with_message(m).messages == bag_add(s.messages, m)
    assert s.with_message(m).with_message(m).without_message(m) == s.with_message(m)
    assert s.with_message(m).reply(r, m).messages == bag_remove(bag_add(bag_add(s.messages, m), r), m)


# ------------------------------------------------------------ properties' own definitions


def test_overriding_is_quorum_does_not_weaken_no_uncommitted_read() -> None:
    # A lone leader of two servers commits with its half quorum: no majority holds the value.
    params = Params(servers=2, values=1, max_term=2, max_log=1, max_copies=1, max_in_flight=1)
    result = explore(NonMajorityQuorum(params), [property_by_name("NoUncommittedRead")])
    assert [f.property for f in result.violations] == ["NoUncommittedRead"]
    assert finding_trace(result, result.violations[0]).steps == 7
    # The correct spec, with the same bounds, holds it.
    assert not explore(RaftSpec(params), [property_by_name("NoUncommittedRead")]).violations


# ------------------------------------------------------------------ the command line


pytestmark = pytest.mark.usefixtures("in_tmp")



def test_a_spec_file_imports_a_sibling_module(tmp_path: Path) -> None:
    folder = tmp_path / "myspecs"
    folder.mkdir()
    (folder / "quorum_rules.py").write_text("def half(members, n):\n    return 2 * len(members) >= n\n")
    (folder / "variant.py").write_text(
        textwrap.dedent(
            """
            from leaderfollower.spec.raft import RaftSpec
            from quorum_rules import half

            class HalfIsEnough(RaftSpec):
                name = "half-is-enough"

                def is_quorum(self, members):
                    return half(members, self.params.servers)
            """
        )
    )
    result = check("--preset", "tiny", "--spec", f"{folder / 'variant.py'}:HalfIsEnough", "--json")
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["spec"] == "half-is-enough"


def _statuses(result: Result) -> dict[str, str]:
    return {row["name"]: row["status"] for row in json.loads(result.stdout)["properties"]}


def test_property_checks_only_the_named_properties() -> None:
    result = check("--preset", "tiny", "--spec", "non-majority-quorum", "--property", "ElectionSafety", "--property", "LeaderElected", "--json")
    assert result.exit_code == 1
    assert _statuses(result) == {"ElectionSafety": "violated", "LeaderElected": "witnessed"}
    out = check("--preset", "tiny", "--spec", "non-majority-quorum", "--property", "ElectionSafety").stdout
    assert "ElectionSafety violated after 10 steps" in out


def test_skip_property_leaves_out_the_named_ones() -> None:
    # Without logs nothing commits: the two sometimes properties that need a commit are skipped.
    args = ["--preset", "tiny", "--max-log", "0", "--json"]
    assert check(*args).exit_code == 1
    result = check(*args, "--skip-property", "ValueCommitted", "--skip-property", "StaleFollowerRead")
    assert result.exit_code == 0
    statuses = _statuses(result)
    assert "ValueCommitted" not in statuses and "StaleFollowerRead" not in statuses and statuses["LeaderElected"] == "witnessed"


@pytest.mark.parametrize("flag", ["--property", "--skip-property"])
def test_an_unknown_property_is_a_one_line_usage_error(flag: str) -> None:
    result = CliRunner().invoke(main, ["check", "--preset", "tiny", flag, "ElectionSafty"])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert "unknown property 'ElectionSafty'" in line and "ElectionSafety" in line
