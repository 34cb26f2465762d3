"""Each property on hand-built states: false on a bad one, true on a good one.

The bad states are small pictures of the bug each property guards against (two
leaders in one term, a log that disagrees below a matching entry, a committed
entry a new leader lacks, ...), so a property that always answers True (or always
False) fails here.
"""
from __future__ import annotations

from typing import Optional

import pytest

from leaderfollower.spec.params import Params
from leaderfollower.spec.properties import (
    PROPERTIES,
    PROTOCOL_FIELDS,
    Property,
    commit_within_log,
    election_safety,
    leader_append_only,
    leader_completeness,
    leader_elected,
    leader_keeps_committed,
    log_matching,
    no_uncommitted_read,
    property_by_name,
    read,
    stale_follower_read,
    state_machine_safety,
    term_never_decreases,
    type_ok,
    value_committed,
)
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import (
    CANDIDATE,
    FOLLOWER,
    LEADER,
    NIL,
    AppendEntriesRequest,
    Entry,
    Log,
    RequestVoteRequest,
    RequestVoteResponse,
    ServerState,
    State,
)

N = 3
SPEC = RaftSpec(Params(servers=N, values=2))


def srv(term: int = 1, role: str = FOLLOWER, log: Log = (), commit: int = 0, voted_for: Optional[int] = NIL) -> ServerState:
    return ServerState(term, role, voted_for, log, commit, frozenset(), frozenset(), (1,) * N, (0,) * N)


def log(*terms: int, value: int = 0) -> Log:
    return tuple(Entry(t, value) for t in terms)


def st(*servers: ServerState, messages: tuple = ()) -> State:
    return State(tuple(servers), messages)


GOOD = st(srv(2, LEADER, log(2, 2), 1, 0), srv(2, FOLLOWER, log(2), 1, 0), srv(2, FOLLOWER, (), 0, 0))


def test_the_good_state_satisfies_every_always_property() -> None:
    for prop in PROPERTIES:
        if prop.kind == "always":
            assert prop.holds is not None and prop.holds(SPEC, GOOD), prop.name


def test_properties_have_the_issues_names_and_kinds() -> None:
    kinds = {p.name: p.kind for p in PROPERTIES}
    for name in ("TypeOK", "ElectionSafety", "LogMatching", "LeaderCompleteness", "StateMachineSafety", "CommitWithinLog", "NoUncommittedRead"):
        assert kinds[name] == "always"
    for name in ("LeaderElected", "ValueCommitted", "StaleFollowerRead"):
        assert kinds[name] == "sometimes"
    for name in ("LeaderAppendOnly", "TermNeverDecreases", "LeaderKeepsCommitted"):
        assert kinds[name] == "action"
    for p in PROPERTIES:
        assert (p.holds is not None) == (p.kind != "action") and (p.step_holds is not None) == (p.kind == "action")
        assert property_by_name(p.name) is p
    with pytest.raises(KeyError, match="unknown property 'Nope'"):
        property_by_name("Nope")


# ----------------------------------------------------------------- TypeOK


def _bad_type_states() -> list[tuple[str, State]]:
    g = GOOD.servers
    m = RequestVoteRequest("RequestVoteRequest", 2, 0, 0, 1, 0)
    m2 = RequestVoteResponse("RequestVoteResponse", 2, True, 0, 1)
    return [
        ("term-zero", st(g[0]._replace(current_term=0), g[1], g[2])),
        ("unknown-role", st(g[0]._replace(role="Boss"), g[1], g[2])),
        ("vote-for-unknown-server", st(g[0]._replace(voted_for=3), g[1], g[2])),
        ("value-out-of-range", st(g[0]._replace(log=(Entry(2, 2),)), g[1], g[2])),
        ("entry-term-zero", st(g[0]._replace(log=(Entry(0, 0),)), g[1], g[2])),
        ("negative-commit", st(g[0], g[1]._replace(commit_index=-1), g[2])),
        ("unknown-voter", st(g[0]._replace(votes_granted=frozenset({5})), g[1], g[2])),
        ("unknown-responder", st(g[0]._replace(votes_responded=frozenset({-1})), g[1], g[2])),
        ("short-next-index", st(g[0]._replace(next_index=(1, 1)), g[1], g[2])),
        ("next-index-zero", st(g[0]._replace(next_index=(1, 0, 1)), g[1], g[2])),
        ("negative-match-index", st(g[0]._replace(match_index=(0, -1, 0)), g[1], g[2])),
        ("missing-server", st(g[0], g[1])),
        ("zero-count", st(*g, messages=((m, 0),))),
        ("message-to-unknown-server", st(*g, messages=((m._replace(mdest=3), 1),))),
        ("message-term-zero", st(*g, messages=((m._replace(mterm=0), 1),))),
        ("unsorted-bag", st(*g, messages=((m2, 1), (m, 1)))),
        ("repeated-message", st(*g, messages=((m, 1), (m, 1)))),
        ("mtype-mismatch", st(*g, messages=((m._replace(mtype="RequestVoteResponse"), 1),))),
    ]


@pytest.mark.parametrize("name, bad", _bad_type_states(), ids=[n for n, _ in _bad_type_states()])
def test_type_ok_rejects(name: str, bad: State) -> None:
    assert not type_ok(SPEC, bad)


def test_type_ok_accepts_a_well_typed_state_with_messages() -> None:
    m = RequestVoteRequest("RequestVoteRequest", 2, 0, 0, 1, 0)
    ae = AppendEntriesRequest("AppendEntriesRequest", 2, 0, 0, log(2), 0, 0, 1)
    bag = tuple(sorted([(m, 2), (ae, 1)]))
    assert type_ok(SPEC, st(*GOOD.servers, messages=bag))


# ----------------------------------------------------------------- always


def test_election_safety() -> None:
    assert not election_safety(SPEC, st(srv(2, LEADER), srv(2, LEADER), srv(2)))
    assert election_safety(SPEC, st(srv(2, LEADER), srv(3, LEADER), srv(3)))
    assert election_safety(SPEC, st(srv(2, CANDIDATE), srv(2, CANDIDATE), srv(2)))


def test_log_matching() -> None:
    # Same term at index 2, different entries below it.
    assert not log_matching(SPEC, st(srv(log=log(2, 3)), srv(log=log(1, 3)), srv()))
    # Same index and term, different value.
    assert not log_matching(SPEC, st(srv(log=(Entry(2, 0),)), srv(), srv(log=(Entry(2, 1),))))
    assert log_matching(SPEC, st(srv(log=log(2, 3)), srv(log=log(2)), srv(log=log(2, 2))))  # diverge at a different term
    assert log_matching(SPEC, st(srv(log=log(2, 2, 3)), srv(log=log(2, 2, 3)), srv(log=log(3))))


def test_leader_completeness() -> None:
    # A server in term 3 knows index 2 committed; the term 3 leader lacks it.
    assert not leader_completeness(SPEC, st(srv(3, LEADER, log(2)), srv(3, FOLLOWER, log(2, 2), 2), srv(3)))
    # The same, but the leader holds it.
    assert leader_completeness(SPEC, st(srv(3, LEADER, log(2, 2, 3)), srv(3, FOLLOWER, log(2, 2), 2), srv(3)))
    # A commit made in a newer term than the (stale) leader's does not count against it.
    assert leader_completeness(SPEC, st(srv(2, LEADER, log(2)), srv(3, FOLLOWER, log(3), 1), srv(3)))
    # Uncommitted entries the leader lacks do not count either.
    assert leader_completeness(SPEC, st(srv(3, LEADER, log(2)), srv(3, FOLLOWER, log(2, 2), 1), srv(3)))


def test_state_machine_safety() -> None:
    assert not state_machine_safety(SPEC, st(srv(log=log(2), commit=1), srv(log=log(3), commit=1), srv()))
    assert not state_machine_safety(SPEC, st(srv(log=log(2, 2), commit=2), srv(), srv(log=log(2, 3), commit=2)))
    assert state_machine_safety(SPEC, st(srv(log=log(2), commit=1), srv(log=log(2, 3), commit=2), srv(log=log(3), commit=0)))


def test_commit_within_log() -> None:
    assert not commit_within_log(SPEC, st(srv(), srv(log=log(2), commit=2), srv()))
    assert commit_within_log(SPEC, st(srv(), srv(log=log(2), commit=1), srv()))


def test_no_uncommitted_read() -> None:
    # Server 1 serves [2] but only it holds that entry: not a quorum of 3.
    assert not no_uncommitted_read(SPEC, st(srv(), srv(log=log(2), commit=1), srv(log=log(3))))
    assert no_uncommitted_read(SPEC, st(srv(log=log(2, 3)), srv(log=log(2), commit=1), srv(log=log(3))))


def test_read_returns_the_state_machine_at_commit_index() -> None:
    assert read(srv(log=(Entry(2, 1), Entry(2, 0), Entry(3, 1)), commit=2)) == (1, 0)
    assert read(srv(log=log(2))) == ()


# ----------------------------------------------------------------- sometimes


def test_leader_elected() -> None:
    assert leader_elected(SPEC, st(srv(), srv(2, LEADER), srv()))
    assert not leader_elected(SPEC, st(srv(2, CANDIDATE), srv(), srv()))


def test_value_committed() -> None:
    assert value_committed(SPEC, st(srv(2, LEADER, log(2), 1), srv(), srv()))
    assert not value_committed(SPEC, st(srv(2, LEADER, log(2), 0), srv(2, FOLLOWER, log(2), 1), srv()))


def test_stale_follower_read() -> None:
    # A follower that has not heard of the commit serves less than the leader's read.
    assert stale_follower_read(SPEC, st(srv(2, LEADER, log(2), 1), srv(2, FOLLOWER, log(2), 0), srv(2, FOLLOWER, log(2), 1)))
    # A leader deposed by a newer term it has not heard of.
    assert stale_follower_read(SPEC, st(srv(2, LEADER, log(2), 0), srv(3, LEADER, log(2), 1), srv(3, CANDIDATE, log(2), 1)))
    # Everyone serves the same: nothing stale.
    assert not stale_follower_read(SPEC, st(srv(2, LEADER, log(2), 1), srv(2, FOLLOWER, log(2), 1), srv(2, FOLLOWER, log(2), 1)))
    # Nothing committed anywhere: nothing stale.
    assert not stale_follower_read(SPEC, st(srv(2, LEADER, log(2)), srv(), srv()))
    # Behind, but a candidate or the current leader: not this property.
    assert not stale_follower_read(SPEC, st(srv(2, LEADER, log(2), 0), srv(2, CANDIDATE, log(2), 1), srv(2, CANDIDATE, log(2), 1)))


# ----------------------------------------------------------------- action


def test_leader_append_only() -> None:
    before = srv(2, LEADER, log(2, 2), 1)
    assert not leader_append_only(SPEC, before, before._replace(log=log(2)))
    assert not leader_append_only(SPEC, before, before._replace(log=log(2, 3)))
    assert leader_append_only(SPEC, before, before._replace(log=log(2, 2, 2)))
    assert leader_append_only(SPEC, before, before._replace(role=FOLLOWER, log=()))  # no longer leader
    assert leader_append_only(SPEC, before, before._replace(current_term=3, log=()))


def test_term_never_decreases() -> None:
    assert not term_never_decreases(SPEC, srv(3), srv(2))
    assert term_never_decreases(SPEC, srv(2), srv(3))
    assert term_never_decreases(SPEC, srv(2), srv(2, CANDIDATE))


def test_leader_keeps_committed() -> None:
    before = srv(2, LEADER, log(2, 2), 1)
    assert not leader_keeps_committed(SPEC, before, before._replace(role=FOLLOWER, log=()))
    assert not leader_keeps_committed(SPEC, before, before._replace(log=log(3)))
    assert leader_keeps_committed(SPEC, before, before._replace(role=FOLLOWER, log=log(2)))  # uncommitted entry dropped
    assert leader_keeps_committed(SPEC, srv(2, FOLLOWER, log(2), 1), srv(2, FOLLOWER, (), 0))  # not a leader


# ------------------------------------------------- declared reads (explorer memo)


def _scrambled(s: State, k: int, fields: tuple[str, ...]) -> State:
    """s with every field of server k that is not in `fields` changed to another valid value."""
    n = len(s.servers)
    old = s.servers[k]
    other = {
        "current_term": old.current_term + 1,
        "role": LEADER if old.role != LEADER else FOLLOWER,
        "voted_for": (k + 1) % n if old.voted_for is None else None,
        "log": old.log + old.log[-1:] if old.log else (Entry(1, 0),),
        "commit_index": old.commit_index + 1,
        "votes_responded": frozenset(range(n)) - old.votes_responded,
        "votes_granted": frozenset(range(n)) - old.votes_granted,
        "next_index": tuple(x + 1 for x in old.next_index),
        "match_index": tuple(x + 1 for x in old.match_index),
    }
    new = old._replace(**{f: v for f, v in other.items() if f not in fields})
    return State(s.servers[:k] + (new,) + s.servers[k + 1 :], s.messages)


def unfaithful_reads(prop: Property, spec: RaftSpec, states: list[State]) -> list[State]:
    """States where changing only fields outside `prop.reads` changes the property's value."""
    assert prop.reads is not None and prop.holds is not None
    bad = []
    for s in states:
        value = prop.holds(spec, s)
        for k in range(len(s.servers)):
            if prop.holds(spec, _scrambled(s, k, prop.reads)) != value:
                bad.append(s)
                break
    return bad


@pytest.fixture(scope="module")
def reachable_tiny() -> tuple[RaftSpec, list[State]]:
    from leaderfollower.checker.explore.search import explore

    spec = RaftSpec(Params(servers=2, values=1, max_term=2, max_log=1))
    result = explore(spec, keep_graph=False)
    return spec, [result.state(k) for k in range(result.distinct_states)]


@pytest.mark.parametrize("name", [p.name for p in PROPERTIES if p.reads is not None])
def test_a_property_reads_only_the_fields_it_declares(name: str, reachable_tiny: tuple[RaftSpec, list[State]]) -> None:
    # The explorer evaluates such a property once per tuple of those fields, so a field
    # it reads but does not declare would make it reuse a wrong answer.
    spec, states = reachable_tiny
    assert unfaithful_reads(property_by_name(name), spec, states) == []


def test_an_undeclared_read_is_caught(reachable_tiny: tuple[RaftSpec, list[State]]) -> None:
    spec, states = reachable_tiny
    reads_votes = Property(
        "NobodyVoted", "always", "no server has voted", holds=lambda sp, s: all(x.voted_for is None for x in s.servers),
        servers_only=True, reads=PROTOCOL_FIELDS,
    )
    assert unfaithful_reads(reads_votes, spec, states)


def test_reads_must_name_server_fields_of_a_servers_only_property() -> None:
    with pytest.raises(ValueError, match="unknown: votes"):
        Property("X", "always", "x", holds=election_safety, servers_only=True, reads=("votes",))
    with pytest.raises(ValueError, match="servers_only"):
        Property("X", "always", "x", holds=election_safety, reads=("log",))
