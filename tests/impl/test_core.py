"""Unit tests of the core, one scenario per spec action (sans-I/O, deterministic)."""
from __future__ import annotations

import pytest

from leaderfollower.impl.core import CoreConfig, ProtocolError, RaftCore, VolatileState
from leaderfollower.impl.messages import (
    CANDIDATE,
    FOLLOWER,
    LEADER,
    Entry,
    PersistentState,
    append_entries_request,
    append_entries_response,
    request_vote_request,
    request_vote_response,
)

CFG = CoreConfig(servers=3)


def leader(log: tuple[Entry, ...] = (), term: int = 2, commit: int = 0, cfg: CoreConfig = CFG) -> RaftCore:
    core = RaftCore.recover(0, cfg, PersistentState(term, 0, log), VolatileState(
        role=LEADER, commit_index=commit, votes_responded=frozenset({0, 1}), votes_granted=frozenset({0, 1}),
        next_index=(len(log) + 1,) * cfg.servers, match_index=(0,) * cfg.servers))
    return core


def test_initial_state_is_raft_tla_init() -> None:
    p = RaftCore(1, CFG).project()
    assert p == (1, FOLLOWER, None, (), 0, frozenset(), frozenset(), (1, 1, 1), (0, 0, 0))


def test_timeout_starts_election_and_clears_vote() -> None:
    core = RaftCore(0, CFG, PersistentState(3, 2, ()))
    assert core.timeout()
    p = core.project()
    assert (p.current_term, p.role, p.voted_for) == (4, CANDIDATE, None)
    rd = core.ready()
    assert rd.hard_state == (4, None) and rd.messages == () and rd.must_persist


def test_leader_cannot_time_out() -> None:
    core = leader()
    before = core.project()
    assert not core.timeout()
    assert core.project() == before


def test_request_vote_goes_to_every_server_including_itself_once_per_response() -> None:
    core = RaftCore(0, CFG, PersistentState(1, None, (Entry(1, b"a"),)))
    core.timeout()
    assert core.request_vote(0) and core.request_vote(2)
    msgs = core.ready().messages
    assert msgs == (request_vote_request(2, 1, 1, 0, 0), request_vote_request(2, 1, 1, 0, 2))
    core.handle_request_vote_response(request_vote_response(2, True, 2, 0))
    assert not core.request_vote(2)  # already responded
    assert not RaftCore(1, CFG).request_vote(0)  # followers do not ask


def test_handle_request_vote_request_grants_once_per_term() -> None:
    core = RaftCore(1, CFG)
    assert core.handle_request_vote_request(request_vote_request(1, 0, 0, 0, 1))
    assert core.voted_for == 0
    assert core.handle_request_vote_request(request_vote_request(1, 0, 0, 2, 1))
    rd = core.ready()
    assert rd.hard_state == (1, 0)
    assert rd.messages == (request_vote_response(1, True, 1, 0), request_vote_response(1, False, 1, 2))


def test_handle_request_vote_request_refuses_an_older_log() -> None:
    core = RaftCore(1, CFG, PersistentState(3, None, (Entry(2, b"x"),)))
    core.handle_request_vote_request(request_vote_request(3, 1, 5, 0, 1))
    assert core.ready().messages == (request_vote_response(3, False, 1, 0),)
    assert core.voted_for is None


def test_newer_term_is_update_term_only_and_the_message_stays() -> None:
    core = leader(term=2)
    m = request_vote_request(5, 0, 0, 1, 0)
    assert not core.handle_request_vote_request(m)  # not enabled: term is newer
    got = core.receive(m)
    assert got == ("UpdateTerm", False)
    assert (core.current_term, core.role, core.voted_for) == (5, FOLLOWER, None)
    assert core.receive(m) == ("HandleRequestVoteRequest", True)


def test_become_leader_needs_a_quorum_and_resets_indexes() -> None:
    core = RaftCore(0, CFG, PersistentState(1, None, (Entry(1, b"a"),)))
    core.timeout()
    core.handle_request_vote_response(request_vote_response(2, True, 0, 0))
    assert not core.become_leader()
    core.handle_request_vote_response(request_vote_response(2, False, 1, 0))
    assert not core.become_leader()
    core.handle_request_vote_response(request_vote_response(2, True, 2, 0))
    assert core.votes_responded == {0, 1, 2} and core.votes_granted == {0, 2}
    assert core.become_leader()
    p = core.project()
    assert p.role == LEADER and p.next_index == (2, 2, 2) and p.match_index == (0, 0, 0)


def test_client_request_only_on_leader() -> None:
    assert not RaftCore(0, CFG).client_request(b"x")
    core = leader(term=2)
    assert core.client_request(b"x")
    rd = core.ready()
    assert rd.log_from == 1 and rd.entries == (Entry(2, b"x"),)


def test_append_entries_sends_one_entry_by_default_and_a_batch_with_the_option() -> None:
    log = (Entry(1, b"a"), Entry(2, b"b"), Entry(2, b"c"))
    core = leader(log, term=2, commit=1)
    core.next_index = [4, 2, 1]
    assert not core.append_entries(0)  # not to itself
    assert core.append_entries(1) and core.append_entries(2)
    assert core.ready().messages == (
        append_entries_request(2, 1, 1, (Entry(2, b"b"),), 1, 0, 1),
        append_entries_request(2, 0, 0, (Entry(1, b"a"),), 1, 0, 2),
    )
    batch = leader(log, term=2, commit=3, cfg=CoreConfig(3, max_entries_per_append=2))
    batch.next_index = [4, 2, 4]
    batch.append_entries(1)
    batch.append_entries(2)
    assert batch.ready().messages == (
        append_entries_request(2, 1, 1, log[1:3], 3, 0, 1),
        append_entries_request(2, 3, 2, (), 3, 0, 2),
    )


def test_append_entries_request_rejects_old_term_and_mismatched_log() -> None:
    core = RaftCore(1, CFG, PersistentState(3, None, ()))
    core.receive(append_entries_request(2, 0, 0, (), 0, 0, 1))
    core.receive(append_entries_request(3, 1, 1, (), 0, 0, 1))
    assert core.ready().messages == (append_entries_response(3, False, 0, 1, 0),) * 2


def test_candidate_steps_down_and_the_message_stays() -> None:
    core = RaftCore(1, CFG, PersistentState(2, None, ()))
    core.timeout()
    m = append_entries_request(3, 0, 0, (Entry(3, b"a"),), 0, 0, 1)
    assert core.receive(m) == ("HandleAppendEntriesRequest", False)
    assert core.role == FOLLOWER and core.current_term == 3
    assert core.ready().messages == ()


def test_append_then_already_done_takes_commit_index_from_message() -> None:
    core = RaftCore(1, CFG, PersistentState(2, None, ()))
    m = append_entries_request(2, 0, 0, (Entry(2, b"a"),), 1, 0, 1)
    assert core.receive(m) == ("HandleAppendEntriesRequest", False)  # append; m stays
    assert core.log == [Entry(2, b"a")] and core.commit_index == 0
    assert core.receive(m) == ("HandleAppendEntriesRequest", True)  # already done
    assert core.commit_index == 1
    rd = core.ready()
    assert rd.log_from == 1 and rd.entries == (Entry(2, b"a"),)
    assert rd.messages == (append_entries_response(2, True, 1, 1, 0),)
    assert rd.committed == ((1, Entry(2, b"a")),)


def test_conflict_removes_only_the_last_entry() -> None:
    core = RaftCore(1, CFG, PersistentState(3, None, (Entry(1, b"a"), Entry(2, b"b"), Entry(2, b"c"))))
    m = append_entries_request(3, 1, 1, (Entry(3, b"x"),), 0, 0, 1)
    assert core.receive(m) == ("HandleAppendEntriesRequest", False)
    assert core.log == [Entry(1, b"a"), Entry(2, b"b")]
    assert core.receive(m) == ("HandleAppendEntriesRequest", False)
    assert core.log == [Entry(1, b"a")]
    assert core.receive(m) == ("HandleAppendEntriesRequest", False)
    assert core.receive(m) == ("HandleAppendEntriesRequest", True)
    rd = core.ready()
    assert rd.log_from == 2 and rd.entries == (Entry(3, b"x"),)


def test_leader_given_own_term_request_has_no_enabled_handler() -> None:
    core = leader(term=2)
    assert core.receive(append_entries_request(2, 0, 0, (), 0, 1, 0)) is None


def test_append_entries_response_success_failure_and_stale() -> None:
    core = leader((Entry(2, b"a"), Entry(2, b"b")), term=2)
    assert core.receive(append_entries_response(2, True, 2, 1, 0)) == ("HandleAppendEntriesResponse", True)
    assert core.next_index[1] == 3 and core.match_index[1] == 2
    core.receive(append_entries_response(2, False, 0, 2, 0))
    assert core.next_index[2] == 2
    core.next_index[2] = 1
    core.receive(append_entries_response(2, False, 0, 2, 0))
    assert core.next_index[2] == 1  # never below 1
    before = core.project()
    assert core.receive(append_entries_response(1, True, 5, 2, 0)) == ("DropStaleResponse", True)
    assert core.receive(request_vote_response(1, True, 2, 0)) == ("DropStaleResponse", True)
    assert core.project() == before


def test_advance_commit_index_only_commits_current_term() -> None:
    core = leader((Entry(1, b"old"), Entry(2, b"new")), term=2)
    core.match_index = [0, 1, 0]
    assert core.advance_commit_index()
    assert core.commit_index == 0  # index 1 is from term 1
    core.match_index = [0, 2, 0]
    core.advance_commit_index()
    assert core.commit_index == 2
    assert [i for i, _ in core.ready().committed] == [1, 2]
    assert not RaftCore(1, CFG).advance_commit_index()


def test_restart_keeps_persistent_state_and_resets_volatile() -> None:
    core = leader((Entry(2, b"a"),), term=2, commit=1)
    core.client_request(b"b")
    core.restart()
    p = core.project()
    assert p == (2, FOLLOWER, 0, (Entry(2, b"a"), Entry(2, b"b")), 0, frozenset(), frozenset(), (1, 1, 1), (0, 0, 0))
    core.restart(PersistentState(7, None, ()))
    assert core.project().current_term == 7 and core.log == []


def test_messages_for_another_server_are_a_local_error() -> None:
    with pytest.raises(ProtocolError, match="addressed to server 2"):
        RaftCore(1, CFG).receive(request_vote_request(1, 0, 0, 0, 2))


def test_volatile_hook_validates() -> None:
    with pytest.raises(ValueError, match="commit_index 3 outside 0..0"):
        RaftCore.recover(0, CFG, PersistentState(1, None, ()), VolatileState(commit_index=3))
