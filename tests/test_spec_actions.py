"""Per-action scenarios for the executable spec, each checked against raft.tla's definition.

Every test builds a state by hand, runs one action (or one received message), and
compares the whole successor with the state raft.tla's action defines: the
variables it assigns, UNCHANGED for the rest, and the message bag after Send /
Discard / Reply.  The one intended difference from raft.tla is the bag: a message
whose count drops to zero leaves it.
"""
from __future__ import annotations

from typing import Optional, Union

import pytest

from leaderfollower.spec.params import Params
from leaderfollower.spec.actions import ACTION_NAMES, Action, ActionName
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import (
    CANDIDATE,
    FOLLOWER,
    LEADER,
    NIL,
    AppendEntriesRequest,
    AppendEntriesResponse,
    Entry,
    Log,
    Message,
    RequestVoteRequest,
    RequestVoteResponse,
    ServerState,
    State,
    bag_add,
    bag_count,
    bag_remove,
)

N = 3
SPEC = RaftSpec(Params(servers=N, values=2, max_term=9, max_log=9, max_copies=9, max_in_flight=9))


# ----------------------------------------------------------------- builders


def srv(
    term: int = 1,
    role: str = FOLLOWER,
    voted_for: Optional[int] = NIL,
    log: Log = (),
    commit: int = 0,
    responded: tuple[int, ...] = (),
    granted: tuple[int, ...] = (),
    next_index: tuple[int, ...] = (1,) * N,
    match_index: tuple[int, ...] = (0,) * N,
) -> ServerState:
    return ServerState(term, role, voted_for, log, commit, frozenset(responded), frozenset(granted), next_index, match_index)


def entries(*terms: int, value: int = 0) -> Log:
    """A log whose entries have these terms (all with the same value)."""
    return tuple(Entry(t, value) for t in terms)


def state(*servers: ServerState, msgs: tuple[Union[Message, tuple[Message, int]], ...] = ()) -> State:
    bag: tuple = ()
    for item in msgs:
        m, count = (item, 1) if isinstance(item[0], str) else item  # type: ignore[misc]
        for _ in range(count):
            bag = bag_add(bag, m)  # type: ignore[arg-type]
    return State(tuple(servers), bag)



def put(s: State, i: int, server: ServerState) -> State:
    servers = list(s.servers)
    servers[i] = server
    return State(tuple(servers), s.messages)


def rvq(src: int, dst: int, term: int, last_term: int = 0, last_index: int = 0) -> RequestVoteRequest:
    return RequestVoteRequest("RequestVoteRequest", term, last_term, last_index, src, dst)


def rvp(src: int, dst: int, term: int, granted: bool) -> RequestVoteResponse:
    return RequestVoteResponse("RequestVoteResponse", term, granted, src, dst)


def aeq(src: int, dst: int, term: int, prev_index: int = 0, prev_term: int = 0, ents: Log = (), commit: int = 0) -> AppendEntriesRequest:
    return AppendEntriesRequest("AppendEntriesRequest", term, prev_index, prev_term, ents, commit, src, dst)


def aep(src: int, dst: int, term: int, success: bool, match: int = 0) -> AppendEntriesResponse:
    return AppendEntriesResponse("AppendEntriesResponse", term, success, match, src, dst)


def received(s: State, m: Message) -> tuple[str, State]:
    """Receive m: the handler's name and the successor; also checks `apply` agrees."""
    got = SPEC.receive(s, m)
    assert len(got) == 1, f"{len(got)} handlers take {m} in {s}"
    ((action, nxt),) = got
    name = str(action.name)
    assert SPEC.apply(s, action) == nxt
    return name, nxt


# ----------------------------------------------------------------- Init and bounds


def test_init_is_raft_tla_init() -> None:
    s = RaftSpec(Params(servers=3)).init()
    assert s == State((srv(),) * 3, ())
    assert s.servers[0].current_term == 1  # raft.tla starts in term 1


def test_bounds_are_a_state_constraint_on_terms_logs_copies_and_messages() -> None:
    spec = RaftSpec(Params(servers=2, max_term=2, max_log=1, max_copies=1, max_in_flight=1))
    base = spec.init()
    assert spec.within_bounds(base)
    assert not spec.within_bounds(put(base, 0, base.servers[0]._replace(current_term=3)))
    assert spec.within_bounds(put(base, 0, base.servers[0]._replace(current_term=2, log=entries(2))))
    assert not spec.within_bounds(put(base, 0, base.servers[0]._replace(log=entries(1, 1))))
    one = State(base.servers, bag_add((), rvq(0, 1, 2)))
    assert spec.within_bounds(one)
    assert not spec.within_bounds(State(base.servers, bag_add(one.messages, rvq(0, 1, 2))))  # two copies
    assert not spec.within_bounds(State(base.servers, bag_add(one.messages, rvq(0, 0, 2))))  # two messages


# ----------------------------------------------------------------- Restart


def test_restart_keeps_term_vote_and_log_and_resets_the_rest() -> None:
    leader = srv(3, LEADER, 1, entries(2, 3), 2, (0, 1), (0, 1), (3, 2, 3), (2, 1, 0))
    m = aeq(0, 1, 3)
    s = state(leader, srv(3, voted_for=0), srv(), msgs=(m,))
    after = SPEC.restart(s, 0)
    assert after == state(srv(3, FOLLOWER, 1, entries(2, 3)), srv(3, voted_for=0), srv(), msgs=(m,))


@pytest.mark.parametrize("role", [FOLLOWER, CANDIDATE, LEADER])
def test_restart_is_always_enabled(role: str) -> None:
    s = state(srv(2, role), srv(), srv())
    assert SPEC.restart(s, 0) == state(srv(2), srv(), srv())


# ----------------------------------------------------------------- Timeout


@pytest.mark.parametrize("role", [FOLLOWER, CANDIDATE])
def test_timeout_starts_an_election_in_the_next_term_and_clears_the_vote(role: str) -> None:
    me = srv(2, role, 0, entries(2), 1, (0, 2), (0,), (2, 1, 1), (1, 0, 0))
    s = state(me, srv(2), srv(2), msgs=(rvq(0, 1, 2, 2, 1),))
    after = SPEC.timeout(s, 0)
    # votedFor := Nil, candidate vars emptied; log, commitIndex and leader vars UNCHANGED.
    expected = me._replace(current_term=3, role=CANDIDATE, voted_for=NIL, votes_responded=frozenset(), votes_granted=frozenset())
    assert after == put(s, 0, expected)


def test_timeout_is_disabled_for_a_leader() -> None:
    s = state(srv(2, LEADER, 0), srv(2), srv())
    assert SPEC.timeout(s, 0) is None
    assert SPEC.apply(s, Action("Timeout", (0,))) is None


# ----------------------------------------------------------------- RequestVote


def test_request_vote_sends_the_candidates_last_log_term_and_index() -> None:
    s = state(srv(4, CANDIDATE, log=entries(2, 3)), srv(), srv())
    after = SPEC.request_vote(s, 0, 2)
    assert after == state(*s.servers, msgs=(rvq(0, 2, 4, 3, 2),))


def test_request_vote_to_itself_carries_the_candidates_own_vote() -> None:
    s = state(srv(2, CANDIDATE), srv(), srv())
    assert SPEC.request_vote(s, 0, 0) == state(*s.servers, msgs=(rvq(0, 0, 2),))


def test_request_vote_adds_a_copy_when_the_request_is_already_in_flight() -> None:
    m = rvq(0, 1, 2)
    s = state(srv(2, CANDIDATE), srv(), srv(), msgs=(m,))
    after = SPEC.request_vote(s, 0, 1)
    assert after is not None and bag_count(after.messages, m) == 2


@pytest.mark.parametrize(
    "server",
    [srv(2, FOLLOWER), srv(2, LEADER), srv(2, CANDIDATE, responded=(1,))],
    ids=["follower", "leader", "already-responded"],
)
def test_request_vote_is_disabled(server: ServerState) -> None:
    s = state(server, srv(), srv())
    assert SPEC.request_vote(s, 0, 1) is None


# ----------------------------------------------------------------- BecomeLeader


def test_become_leader_with_a_quorum_sets_next_and_match_index() -> None:
    me = srv(2, CANDIDATE, 0, entries(1, 2), 1, (0, 1, 2), (0, 2), (3, 1, 2), (1, 1, 1))
    s = state(me, srv(2, voted_for=2), srv(2, voted_for=0), msgs=(aep(1, 0, 2, False),))
    after = SPEC.become_leader(s, 0)
    # nextIndex := Len(log) + 1, matchIndex := 0; votes, term, votedFor and logVars unchanged.
    assert after == put(s, 0, me._replace(role=LEADER, next_index=(3, 3, 3), match_index=(0, 0, 0)))


@pytest.mark.parametrize(
    "server",
    [srv(2, CANDIDATE, granted=(0,)), srv(2, FOLLOWER, granted=(0, 1)), srv(2, LEADER, granted=(0, 1))],
    ids=["no-quorum", "follower", "leader"],
)
def test_become_leader_is_disabled(server: ServerState) -> None:
    assert SPEC.become_leader(state(server, srv(), srv()), 0) is None


def test_quorum_is_a_strict_majority() -> None:
    two = RaftSpec(Params(servers=2))
    four = RaftSpec(Params(servers=4))
    assert not two.is_quorum(frozenset({0}))
    assert two.is_quorum(frozenset({0, 1}))
    assert not four.is_quorum(frozenset({0, 1}))
    assert four.is_quorum(frozenset({0, 1, 3}))


# ----------------------------------------------------------------- ClientRequest


def test_client_request_appends_an_entry_of_the_leaders_term() -> None:
    me = srv(3, LEADER, 0, entries(2), 1, next_index=(2, 2, 2))
    s = state(me, srv(3), srv(3))
    after = SPEC.client_request(s, 0, 1)
    assert after == put(s, 0, me._replace(log=(Entry(2, 0), Entry(3, 1))))  # commitIndex unchanged


@pytest.mark.parametrize("role", [FOLLOWER, CANDIDATE])
def test_client_request_is_disabled_unless_leader(role: str) -> None:
    assert SPEC.client_request(state(srv(2, role), srv(), srv()), 0, 0) is None


# ----------------------------------------------------------------- AdvanceCommitIndex


def test_advance_commit_index_commits_the_highest_index_a_quorum_holds() -> None:
    me = srv(2, LEADER, 0, entries(2, 2, 2), 0, next_index=(4, 3, 1), match_index=(0, 2, 0))
    s = state(me, srv(2), srv(2))
    # Agree(index) = {0} ∪ {k : matchIndex[0][k] >= index}: a quorum for 1 and 2, not 3.
    assert SPEC.advance_commit_index(s, 0) == put(s, 0, me._replace(commit_index=2))


def test_advance_commit_index_counts_the_leader_even_if_its_own_match_index_is_zero() -> None:
    me = srv(2, LEADER, 0, entries(2), 0, match_index=(0, 1, 0))
    s = state(me, srv(2), srv(2))
    assert SPEC.advance_commit_index(s, 0) == put(s, 0, me._replace(commit_index=1))


def test_advance_commit_index_does_not_commit_an_entry_from_an_earlier_term() -> None:
    me = srv(3, LEADER, 0, entries(2), 0, match_index=(0, 1, 1))
    s = state(me, srv(3), srv(3))
    # Enabled (a leader), but commitIndex stays: a stuttering step, as in raft.tla.
    assert SPEC.advance_commit_index(s, 0) == s


def test_advance_commit_index_looks_only_at_the_highest_agreed_index() -> None:
    # raft.tla commits Max(agreeIndexes) only if *that* entry is of the current term.
    me = srv(3, LEADER, 0, (Entry(3, 0), Entry(2, 0)), 0, match_index=(0, 2, 0))
    s = state(me, srv(3), srv(3))
    assert SPEC.advance_commit_index(s, 0) == s


def test_advance_commit_index_with_no_quorum_keeps_commit_index() -> None:
    me = srv(2, LEADER, 0, entries(2), 0, match_index=(0, 0, 0))
    s = state(me, srv(2), srv(2))
    assert SPEC.advance_commit_index(s, 0) == s


@pytest.mark.parametrize("role", [FOLLOWER, CANDIDATE])
def test_advance_commit_index_is_disabled_unless_leader(role: str) -> None:
    s = state(srv(2, role, log=entries(2), match_index=(1, 1, 1)), srv(2), srv(2))
    assert SPEC.advance_commit_index(s, 0) is None


# ----------------------------------------------------------------- AppendEntries


def test_append_entries_sends_one_entry_from_next_index() -> None:
    me = srv(2, LEADER, 0, entries(2, 2), 2, next_index=(3, 1, 3))
    s = state(me, srv(2), srv(2))
    # lastEntry = Min(Len(log), nextIndex) = 1; mcommitIndex = Min(commitIndex, lastEntry) = 1.
    assert SPEC.append_entries(s, 0, 1) == state(*s.servers, msgs=(aeq(0, 1, 2, 0, 0, entries(2), 1),))


def test_append_entries_sends_prev_log_term_of_the_entry_before_next_index() -> None:
    me = srv(3, LEADER, 0, (Entry(2, 0), Entry(3, 1)), 2, next_index=(3, 2, 3))
    s = state(me, srv(3), srv(3))
    assert SPEC.append_entries(s, 0, 1) == state(*s.servers, msgs=(aeq(0, 1, 3, 1, 2, (Entry(3, 1),), 2),))


def test_append_entries_is_a_heartbeat_when_the_follower_is_up_to_date() -> None:
    me = srv(2, LEADER, 0, entries(2, 2), 1, next_index=(3, 3, 3))
    s = state(me, srv(2), srv(2))
    assert SPEC.append_entries(s, 0, 2) == state(*s.servers, msgs=(aeq(0, 2, 2, 2, 2, (), 1),))


def test_append_entries_on_an_empty_log() -> None:
    s = state(srv(2, LEADER, 0), srv(2), srv(2))
    assert SPEC.append_entries(s, 0, 1) == state(*s.servers, msgs=(aeq(0, 1, 2),))


@pytest.mark.parametrize("i, j, role", [(0, 0, LEADER), (0, 1, FOLLOWER), (0, 1, CANDIDATE)], ids=["to-itself", "follower", "candidate"])
def test_append_entries_is_disabled(i: int, j: int, role: str) -> None:
    s = state(srv(2, role, 0, entries(2)), srv(2), srv(2))
    assert SPEC.append_entries(s, i, j) is None


def test_append_entries_with_several_entries_is_a_named_option() -> None:
    spec = RaftSpec(Params(servers=3, max_entries_per_append=2))
    me = srv(2, LEADER, 0, entries(2, 2, 2), 3, next_index=(4, 1, 4))
    s = state(me, srv(2), srv(2))
    assert spec.append_entries(s, 0, 1) == state(*s.servers, msgs=(aeq(0, 1, 2, 0, 0, entries(2, 2), 2),))
    # The follower appends both at once.
    m = aeq(0, 1, 2, 0, 0, entries(2, 2), 2)
    s2 = state(me, srv(2), srv(2), msgs=(m,))
    assert spec.receive(s2, m) == [(Action(ActionName.HandleAppendEntriesRequest, (m,)), put(s2, 1, srv(2, log=entries(2, 2))))]


# ----------------------------------------------------------------- UpdateTerm


@pytest.mark.parametrize(
    "m",
    [rvq(1, 0, 5), rvp(1, 0, 5, False), aeq(1, 0, 5), aep(1, 0, 5, True, 1)],
    ids=["RequestVoteRequest", "RequestVoteResponse", "AppendEntriesRequest", "AppendEntriesResponse"],
)
def test_update_term_on_any_message_with_a_newer_term(m: Message) -> None:
    me = srv(3, LEADER, 0, entries(3), 1, (0, 1), (0, 1), (2, 2, 2), (1, 1, 0))
    s = state(me, srv(3), srv(3), msgs=(m,))
    name, after = received(s, m)
    assert name == "UpdateTerm"
    # term, state := Follower, votedFor := Nil; messages, candidate, leader and log vars UNCHANGED.
    assert after == put(s, 0, me._replace(current_term=5, role=FOLLOWER, voted_for=NIL))
    assert SPEC.update_term(s, m) == after


def test_update_term_is_disabled_for_a_message_of_the_same_term() -> None:
    m = aeq(1, 0, 3)
    s = state(srv(3), srv(3), srv(3), msgs=(m,))
    assert SPEC.update_term(s, m) is None
    assert SPEC.apply(s, Action("UpdateTerm", (m,))) is None


# ----------------------------------------------------------------- HandleRequestVoteRequest


@pytest.mark.parametrize(
    "voter, m",
    [
        (srv(2), rvq(1, 0, 2)),
        (srv(2, voted_for=1), rvq(1, 0, 2)),  # already voted for this candidate
        (srv(2, log=entries(1)), rvq(1, 0, 2, 2, 1)),  # candidate's last term is newer
        (srv(2, log=entries(2)), rvq(1, 0, 2, 2, 1)),  # same last term, same length
        (srv(3, log=entries(2, 2)), rvq(1, 0, 3, 3, 1)),  # newer last term beats a longer log
        (srv(2, CANDIDATE, voted_for=NIL), rvq(0, 0, 2)),  # a candidate's own vote
    ],
    ids=["fresh", "same-candidate-again", "newer-last-term", "equal-log", "newer-term-shorter-log", "own-vote"],
)
def test_handle_request_vote_request_grants(voter: ServerState, m: RequestVoteRequest) -> None:
    others = [srv(voter.current_term), srv(voter.current_term)]
    s = state(voter, *others, msgs=(m,))
    name, after = received(s, m)
    assert name == "HandleRequestVoteRequest"
    expected_servers = put(s, 0, voter._replace(voted_for=m.msource)).servers
    assert after == state(*expected_servers, msgs=(rvp(0, m.msource, voter.current_term, True),))


@pytest.mark.parametrize(
    "voter, m",
    [
        (srv(3), rvq(1, 0, 2)),  # stale term: the reply carries the voter's term
        (srv(2, voted_for=2), rvq(1, 0, 2)),  # voted for someone else in this term
        (srv(2, log=entries(2)), rvq(1, 0, 2, 1, 5)),  # candidate's last term is older
        (srv(2, log=entries(2, 2)), rvq(1, 0, 2, 2, 1)),  # same last term, shorter log
        (srv(2, log=entries(2)), rvq(1, 0, 2, 0, 0)),  # candidate has an empty log
    ],
    ids=["stale-term", "voted-for-other", "older-last-term", "shorter-log", "empty-candidate-log"],
)
def test_handle_request_vote_request_denies(voter: ServerState, m: RequestVoteRequest) -> None:
    s = state(voter, srv(voter.current_term), srv(voter.current_term), msgs=(m,))
    name, after = received(s, m)
    assert name == "HandleRequestVoteRequest"
    assert after == state(*s.servers, msgs=(rvp(0, m.msource, voter.current_term, False),))  # votedFor UNCHANGED


def test_handle_request_vote_request_leaves_other_copies_in_the_bag() -> None:
    m = rvq(1, 0, 2)
    s = state(srv(2), srv(2, CANDIDATE), srv(2), msgs=((m, 2),))
    _, after = received(s, m)
    assert bag_count(after.messages, m) == 1 and bag_count(after.messages, rvp(0, 1, 2, True)) == 1


def test_handle_request_vote_request_is_disabled_for_a_newer_term() -> None:
    m = rvq(1, 0, 3)
    s = state(srv(2), srv(3, CANDIDATE), srv(2), msgs=(m,))
    assert SPEC.handle_request_vote_request(s, m) is None
    assert SPEC.apply(s, Action("HandleRequestVoteRequest", (m,))) is None


# ----------------------------------------------------------------- HandleRequestVoteResponse


@pytest.mark.parametrize("granted", [True, False])
def test_handle_request_vote_response_tallies_the_vote(granted: bool) -> None:
    me = srv(2, CANDIDATE, 0, responded=(0,), granted=(0,))
    m = rvp(2, 0, 2, granted)
    s = state(me, srv(2), srv(2, voted_for=0 if granted else 1), msgs=(m,))
    name, after = received(s, m)
    assert name == "HandleRequestVoteResponse"
    new = me._replace(votes_responded=frozenset({0, 2}), votes_granted=frozenset({0, 2} if granted else {0}))
    assert after == State(put(s, 0, new).servers, ())


def test_handle_request_vote_response_tallies_even_when_not_a_candidate() -> None:
    # raft.tla: "This tallies votes even when the current state is not Candidate".
    me = srv(2, LEADER, 0, responded=(0, 1), granted=(0, 1))
    m = rvp(2, 0, 2, True)
    s = state(me, srv(2), srv(2), msgs=(m,))
    name, after = received(s, m)
    assert name == "HandleRequestVoteResponse"
    assert after.servers[0] == me._replace(votes_responded=frozenset({0, 1, 2}), votes_granted=frozenset({0, 1, 2}))


def test_handle_request_vote_response_is_disabled_for_another_term() -> None:
    s_old = state(srv(3, CANDIDATE), srv(), srv(), msgs=(rvp(1, 0, 2, True),))
    assert SPEC.handle_request_vote_response(s_old, rvp(1, 0, 2, True)) is None
    assert SPEC.apply(s_old, Action("HandleRequestVoteResponse", (rvp(1, 0, 2, True),))) is None


# ----------------------------------------------------------------- HandleAppendEntriesRequest


@pytest.mark.parametrize("role", [FOLLOWER, CANDIDATE, LEADER])
def test_handle_append_entries_request_rejects_a_stale_term(role: str) -> None:
    me = srv(3, role, 0, entries(2), 1)
    m = aeq(1, 0, 2, 0, 0, entries(2), 1)
    s = state(me, srv(2, LEADER), srv(3), msgs=(m,))
    name, after = received(s, m)
    assert name == "HandleAppendEntriesRequest"
    assert after == state(*s.servers, msgs=(aep(0, 1, 3, False, 0),))


@pytest.mark.parametrize(
    "log, m",
    [
        ((), aeq(1, 0, 2, 1, 2, entries(2))),  # prevLogIndex beyond the log
        (entries(2), aeq(1, 0, 3, 2, 3, entries(3))),  # prevLogIndex beyond the log
        (entries(2), aeq(1, 0, 3, 1, 3, entries(3))),  # prevLogTerm differs
    ],
    ids=["empty-log", "too-short", "term-mismatch"],
)
def test_handle_append_entries_request_rejects_a_log_mismatch(log: Log, m: AppendEntriesRequest) -> None:
    me = srv(m.mterm, FOLLOWER, 1, log, 1 if log else 0)
    s = state(me, srv(m.mterm, LEADER), srv(m.mterm), msgs=(m,))
    name, after = received(s, m)
    assert name == "HandleAppendEntriesRequest"
    assert after == state(*s.servers, msgs=(aep(0, 1, m.mterm, False, 0),))


@pytest.mark.parametrize("log_ok", [True, False])
def test_handle_append_entries_request_makes_a_candidate_step_down(log_ok: bool) -> None:
    me = srv(2, CANDIDATE, 0, (), 0, (0,), (0,))
    m = aeq(1, 0, 2, 0 if log_ok else 1, 0 if log_ok else 2, ())
    s = state(me, srv(2, LEADER, 1), srv(2), msgs=(m,))
    name, after = received(s, m)
    assert name == "HandleAppendEntriesRequest"
    # Only state changes; the message stays to be handled again as a follower.
    assert after == put(s, 0, me._replace(role=FOLLOWER))


def test_handle_append_entries_request_of_its_own_term_is_disabled_for_a_leader() -> None:
    m = aeq(1, 0, 2)
    s = state(srv(2, LEADER, 0), srv(2, LEADER, 1), srv(2), msgs=(m,))
    assert SPEC.handle_append_entries_request(s, m) is None
    assert SPEC.receive(s, m) == []


def test_handle_append_entries_request_already_done_heartbeat_sets_commit_index_from_the_message() -> None:
    me = srv(2, FOLLOWER, 1, entries(2, 2), 0)
    m = aeq(1, 0, 2, 2, 2, (), 2)
    s = state(me, srv(2, LEADER, 1, entries(2, 2), 2), srv(2), msgs=(m,))
    name, after = received(s, m)
    assert name == "HandleAppendEntriesRequest"
    assert after == state(*put(s, 0, me._replace(commit_index=2)).servers, msgs=(aep(0, 1, 2, True, 2),))


def test_handle_append_entries_request_already_done_may_lower_commit_index() -> None:
    # raft.tla: "This could make our commitIndex decrease (for example if we process an old, duplicated request)".
    me = srv(2, FOLLOWER, 1, entries(2, 2), 2)
    m = aeq(1, 0, 2, 0, 0, entries(2), 0)
    s = state(me, srv(2, LEADER, 1), srv(2), msgs=(m,))
    _, after = received(s, m)
    assert after == state(*put(s, 0, me._replace(commit_index=0)).servers, msgs=(aep(0, 1, 2, True, 1),))


def test_handle_append_entries_request_already_done_with_a_matching_entry() -> None:
    me = srv(3, FOLLOWER, 1, (Entry(2, 0), Entry(3, 1)), 0)
    m = aeq(1, 0, 3, 1, 2, (Entry(3, 1),), 1)
    s = state(me, srv(3, LEADER, 1), srv(3), msgs=(m,))
    _, after = received(s, m)
    # mmatchIndex = mprevLogIndex + Len(mentries); the log is UNCHANGED.
    assert after == state(*put(s, 0, me._replace(commit_index=1)).servers, msgs=(aep(0, 1, 3, True, 2),))


def test_handle_append_entries_request_conflict_removes_one_entry_the_last() -> None:
    me = srv(3, FOLLOWER, 1, entries(2, 2, 2), 1)
    m = aeq(1, 0, 3, 1, 2, entries(3), 1)
    s = state(me, srv(3, LEADER, 1, entries(2, 3)), srv(3), msgs=(m,))
    name, after = received(s, m)
    assert name == "HandleAppendEntriesRequest"
    # Conflict at index 2, but raft.tla drops only the *last* entry (index 3); commitIndex and
    # the bag UNCHANGED (m stays).
    assert after == put(s, 0, me._replace(log=entries(2, 2)))
    # Handling m again: still a conflict, one more entry goes; then the entry is appended.
    _, again = received(after, m)
    assert again == put(s, 0, me._replace(log=entries(2)))
    _, appended = received(again, m)
    assert appended == put(s, 0, me._replace(log=entries(2, 3)))
    _, done = received(appended, m)
    assert done == state(*put(s, 0, me._replace(log=entries(2, 3), commit_index=1)).servers, msgs=(aep(0, 1, 3, True, 2),))


def test_handle_append_entries_request_appends_the_entry() -> None:
    me = srv(2, FOLLOWER, 1, entries(2), 0)
    m = aeq(1, 0, 2, 1, 2, (Entry(2, 1),), 1)
    s = state(me, srv(2, LEADER, 1), srv(2), msgs=(m,))
    name, after = received(s, m)
    assert name == "HandleAppendEntriesRequest"
    # Append(log, mentries[1]); commitIndex and messages UNCHANGED.
    assert after == put(s, 0, me._replace(log=(Entry(2, 0), Entry(2, 1))))


def test_handle_append_entries_request_is_disabled_for_a_newer_term() -> None:
    m = aeq(1, 0, 3)
    s = state(srv(2), srv(3, LEADER), srv(2), msgs=(m,))
    assert SPEC.handle_append_entries_request(s, m) is None
    assert SPEC.apply(s, Action("HandleAppendEntriesRequest", (m,))) is None


# ----------------------------------------------------------------- HandleAppendEntriesResponse


def test_handle_append_entries_response_success_sets_next_and_match_index() -> None:
    me = srv(2, LEADER, 0, entries(2, 2), 0, next_index=(3, 1, 3), match_index=(0, 0, 0))
    m = aep(1, 0, 2, True, 2)
    s = state(me, srv(2), srv(2), msgs=(m,))
    name, after = received(s, m)
    assert name == "HandleAppendEntriesResponse"
    assert after == State(put(s, 0, me._replace(next_index=(3, 3, 3), match_index=(0, 2, 0))).servers, ())


@pytest.mark.parametrize("before, after_next", [(3, 2), (1, 1)])
def test_handle_append_entries_response_failure_decrements_next_index_not_below_one(before: int, after_next: int) -> None:
    me = srv(2, LEADER, 0, entries(2, 2), 0, next_index=(3, before, 3), match_index=(0, 0, 1))
    m = aep(1, 0, 2, False, 0)
    s = state(me, srv(2), srv(2), msgs=(m,))
    name, after = received(s, m)
    assert name == "HandleAppendEntriesResponse"
    assert after == State(put(s, 0, me._replace(next_index=(3, after_next, 3))).servers, ())  # matchIndex UNCHANGED


def test_handle_append_entries_response_is_disabled_for_another_term() -> None:
    m = aep(1, 0, 2, True, 1)
    s = state(srv(3, LEADER, 0), srv(3), srv(3), msgs=(m,))
    assert SPEC.handle_append_entries_response(s, m) is None
    assert SPEC.apply(s, Action("HandleAppendEntriesResponse", (m,))) is None


# ----------------------------------------------------------------- DropStaleResponse


@pytest.mark.parametrize("m", [rvp(1, 0, 2, True), aep(1, 0, 2, True, 1)], ids=["RequestVoteResponse", "AppendEntriesResponse"])
def test_drop_stale_response_discards_an_older_response_and_nothing_else(m: Message) -> None:
    me = srv(3, CANDIDATE, 0, (), 0, (0,), (0,))
    s = state(me, srv(3), srv(3), msgs=(m,))
    name, after = received(s, m)
    assert name == "DropStaleResponse"
    assert after == State(s.servers, ())
    assert SPEC.drop_stale_response(s, m) == after


@pytest.mark.parametrize("m", [rvp(1, 0, 3, True), aep(1, 0, 3, True, 1)], ids=["RequestVoteResponse", "AppendEntriesResponse"])
def test_drop_stale_response_is_disabled_for_a_current_response(m: Message) -> None:
    s = state(srv(3, LEADER, 0, entries(3)), srv(3), srv(3), msgs=(m,))
    assert SPEC.drop_stale_response(s, m) is None
    assert SPEC.apply(s, Action("DropStaleResponse", (m,))) is None


def test_a_stale_request_is_answered_not_dropped() -> None:
    m = rvq(1, 0, 2)
    s = state(srv(3), srv(2, CANDIDATE), srv(3), msgs=(m,))
    assert SPEC.receive(s, m) == [(Action(ActionName.HandleRequestVoteRequest, (m,)), state(*s.servers, msgs=(rvp(0, 1, 3, False),)))]


# ----------------------------------------------------------------- network faults


def test_duplicate_message_adds_a_copy() -> None:
    m = aeq(1, 0, 2)
    s = state(srv(2), srv(2, LEADER), srv(2), msgs=(m,))
    after = SPEC.duplicate_message(s, m)
    assert after == state(*s.servers, msgs=((m, 2),))
    assert SPEC.apply(s, Action("DuplicateMessage", (m,))) == after


def test_drop_message_removes_one_copy_and_the_last_copy_leaves_the_bag() -> None:
    m = aeq(1, 0, 2)
    s = state(srv(2), srv(2, LEADER), srv(2), msgs=((m, 2),))
    once = SPEC.drop_message(s, m)
    assert once == state(*s.servers, msgs=(m,))
    twice = SPEC.drop_message(once, m)  # type: ignore[arg-type]
    assert twice == State(s.servers, ())  # not a zero count: gone


def test_network_actions_are_disabled_for_a_message_not_in_the_bag() -> None:
    m = aeq(1, 0, 2)
    s = state(srv(2), srv(2, LEADER), srv(2))
    for name in ("DuplicateMessage", "DropMessage", "HandleAppendEntriesRequest"):
        assert SPEC.apply(s, Action(name, (m,))) is None


def test_bag_helpers_keep_the_bag_sorted_and_drop_zero_counts() -> None:
    a, b = aeq(1, 0, 2), rvq(0, 1, 2)
    bag = bag_add(bag_add(bag_add((), a), b), a)
    assert bag == ((aeq(1, 0, 2), 2), (rvq(0, 1, 2), 1))
    assert bag_remove(bag_remove(bag, a), a) == ((b, 1),)
    assert bag_remove(((b, 1),), a) == ((b, 1),)  # removing an absent message: unchanged


# ----------------------------------------------------------------- Next


def test_successors_of_init_are_timeouts_and_restarts_in_next_order() -> None:
    spec = RaftSpec(Params(servers=2))
    init = spec.init()
    assert [a for a, _ in spec.successors(init)] == [
        Action("Timeout", (0,)),
        Action("Timeout", (1,)),
        Action("Restart", (0,)),
        Action("Restart", (1,)),
    ]
    assert [t for a, t in spec.successors(init) if a.name == "Restart"] == [init, init]


def test_successors_follow_raft_tla_next_order_and_agree_with_apply() -> None:
    m1, m2 = rvq(1, 0, 2), aep(2, 0, 2, True, 1)
    s = state(
        srv(2, LEADER, 0, entries(2), 0, (0, 1), (0, 1), (2, 1, 2), (0, 0, 1)),
        srv(2, CANDIDATE, 1, (), 0, (1,), (1,)),
        srv(2, FOLLOWER, 0, entries(2)),
        msgs=(m1, m2),
    )
    steps = list(SPEC.successors(s))
    names = [a.name for a, _ in steps]
    order = ["Timeout", "Restart", "RequestVote", "BecomeLeader", "ClientRequest", "AdvanceCommitIndex", "AppendEntries", "Receive", "DuplicateMessage", "DropMessage"]
    rank = [order.index(n if n in order else "Receive") for n in names]
    assert rank == sorted(rank)
    assert set(names) <= set(ACTION_NAMES)
    assert names.count("Timeout") == 2 and names.count("Restart") == 3
    assert [a.args for a, _ in steps if a.name == "RequestVote"] == [(1, 0), (1, 2)]
    assert [a.args for a, _ in steps if a.name == "ClientRequest"] == [(0, 0), (0, 1)]
    assert [a.args for a, _ in steps if a.name == "AppendEntries"] == [(0, 1), (0, 2)]
    assert [a.name for a, _ in steps if a.args and isinstance(a.args[0], tuple) and a.name not in ("DuplicateMessage", "DropMessage")] == [
        "HandleRequestVoteRequest" if min(m1, m2) == m1 else "HandleAppendEntriesResponse",
        "HandleAppendEntriesResponse" if min(m1, m2) == m1 else "HandleRequestVoteRequest",
    ]
    for action, t in steps:
        assert SPEC.apply(s, action) == t, action
