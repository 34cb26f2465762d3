"""Forged and corrupt peer messages (issue 15, bug 5), in the core: no crash, no permanent damage.

Every case of the campaign is a message no correct server sends; `Node.step` drops it
(`RaftCore.check_message`) before the core sees it.  Over the network such frames do not
even get that far without a cluster certificate (tests/impl/test_tls.py); these tests are
for what an authenticated but broken peer, or a corrupted frame, could deliver.  A
property test then throws arbitrary messages at a working cluster and checks that
nothing raises and no committed entry changes, and every message correct servers
exchange passes the check.
"""
from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leaderfollower.impl.core import TERM_LIMIT, CoreConfig
from leaderfollower.impl.messages import (
    LEADER,
    Entry,
    append_entries_request,
    append_entries_response,
    request_vote_request,
    request_vote_response,
)
from leaderfollower.impl.node import Envelope, Node, NodeConfig

from support.sansio import idle_cluster, settle

U64 = 2**64 - 1


def committed_cluster() -> list[Node]:
    """Three nodes, node 0 leader in term 2, two writes committed and known to everyone."""
    nodes = idle_cluster()
    for k in range(2):
        nodes[0].write(f"w{k}", "put", f"k{k}", "v")
    settle(nodes)
    for _ in range(NodeConfig().heartbeat_ticks):
        nodes[0].tick()
    settle(nodes)
    assert all(n.core.commit_index == 3 for n in nodes)
    return nodes


def deliver(nodes: list[Node], m: object, ctx: int = 0) -> list[str]:
    node = nodes[m.mdest]  # type: ignore[attr-defined]
    node.step(Envelope(m, ctx))  # type: ignore[arg-type]
    return list(node.ready().rejected)


def elects_and_commits(nodes: list[Node]) -> bool:
    nodes[0].write("after", "put", "after", "1")
    settle(nodes)
    for _ in range(NodeConfig().heartbeat_ticks):
        nodes[0].tick()
    settle(nodes)
    return all(n.kv.get("after") == "1" for n in nodes)


def test_a_forged_term_of_2_64_minus_1_is_dropped_and_the_cluster_goes_on() -> None:
    nodes = committed_cluster()
    for m in (request_vote_request(U64, 0, 0, 0, 1), append_entries_request(U64, 0, 0, (), 0, 0, 2),
              append_entries_response(U64, False, 0, 1, 0), request_vote_response(TERM_LIMIT + 1, True, 2, 0)):
        rejected = deliver(nodes, m)
        assert rejected and "outside 1.." in rejected[0]
    assert [n.term for n in nodes] == [2, 2, 2] and nodes[0].role == LEADER
    assert elects_and_commits(nodes)


def test_a_term_far_ahead_is_dropped() -> None:
    nodes = committed_cluster()
    rejected = deliver(nodes, request_vote_request(2 + 2**32 + 1, 9, 9, 0, 1))
    assert rejected and "more than 4294967296 past" in rejected[0]
    assert nodes[1].term == 2


def test_a_commit_index_of_a_billion_is_dropped_not_an_index_error() -> None:
    nodes = committed_cluster()
    rejected = deliver(nodes, append_entries_request(2, 3, 2, (), 10**9, 0, 1))
    assert rejected == ["AppendEntriesRequest from 0: commit index 1000000000 past the last entry it carries (3)"]
    assert nodes[1].core.commit_index == 3
    assert elects_and_commits(nodes)


def test_a_forged_append_entries_that_would_wipe_committed_entries_is_dropped() -> None:
    nodes = committed_cluster()
    before = [list(n.core.log) for n in nodes]
    for dest in (1, 2):
        wipe = append_entries_request(3, 0, 0, (Entry(3, b""),), 0, 0, dest)  # a newer "leader" rewriting index 1
        rejected = deliver(nodes, wipe)
        assert rejected and "would replace committed entry 1" in rejected[0]
    assert [list(n.core.log) for n in nodes] == before and [n.term for n in nodes] == [2, 2, 2]
    assert elects_and_commits(nodes)


def test_a_success_past_the_leaders_log_is_dropped() -> None:
    nodes = committed_cluster()
    rejected = deliver(nodes, append_entries_response(2, True, 10**6, 1, 0))
    assert rejected and "past this leader's log of 3" in rejected[0]
    assert nodes[0].core.match_index[1] == 3
    assert elects_and_commits(nodes)


INDEX = st.one_of(st.integers(0, 8), st.integers(0, U64))
TERM = st.one_of(st.integers(0, 6), st.integers(0, U64))
NODE = st.integers(0, 2**16 - 1) | st.integers(0, 2)
ENTRIES = st.lists(st.builds(Entry, TERM, st.sampled_from([b"", b"x", 7])), max_size=3).map(tuple)
MESSAGES = st.one_of(
    st.builds(request_vote_request, TERM, TERM, INDEX, NODE, st.integers(0, 2)),
    st.builds(request_vote_response, TERM, st.booleans(), NODE, st.integers(0, 2)),
    st.builds(append_entries_request, TERM, INDEX, TERM, ENTRIES, INDEX, NODE, st.integers(0, 2)),
    st.builds(append_entries_response, TERM, st.booleans(), INDEX, NODE, st.integers(0, 2)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(MESSAGES, min_size=1, max_size=6))
def test_no_frame_crashes_a_node_or_changes_a_committed_entry(forged: list[object]) -> None:
    nodes = committed_cluster()
    committed = [list(n.core.log[: n.core.commit_index]) for n in nodes]
    for m in forged:
        node = nodes[m.mdest]  # type: ignore[attr-defined]
        node.step(Envelope(m, 0))  # type: ignore[arg-type]
        settle(nodes)
        for n, before in zip(nodes, committed):
            assert list(n.core.log[: len(before)]) == before, f"node {n.id}: a committed entry changed after {m}"
            assert n.term <= TERM_LIMIT


def test_every_message_correct_servers_exchange_passes_the_check() -> None:
    """Three nodes in a lossy, duplicating, reordering network with crashes: nothing they send is refused."""
    rng = random.Random(4)
    nodes = [Node(i, CoreConfig(3, 4), random.Random(i), NodeConfig(4, 8, 2)) for i in range(3)]
    network: list[Envelope] = []
    checked = 0
    for step in range(10_000):
        i = rng.randrange(3)
        roll = rng.random()
        if roll < 0.3:
            nodes[i].tick()
        elif roll < 0.35 and nodes[i].role == LEADER:
            nodes[i].write(step, "put", "k", str(step))
        elif roll < 0.36:
            nodes[i] = Node(i, CoreConfig(3, 4), random.Random(step), NodeConfig(4, 8, 2), nodes[i].core.persistent_state())
        elif network:
            env = network.pop(rng.randrange(len(network)))
            if rng.random() < 0.1:
                network.append(env)
            elif rng.random() < 0.9:
                target = nodes[env.message.mdest]
                assert target.core.check_message(env.message) is None, env.message
                checked += 1
                target.step(env)
        for node in nodes:
            rd = node.ready()
            assert rd.rejected == ()
            network.extend(rd.messages)
    assert checked > 1000 and any(n.core.commit_index > 5 for n in nodes)
