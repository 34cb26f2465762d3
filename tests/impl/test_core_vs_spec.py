"""The core against the executable spec, action by action (a property test, not the replay harness).

Hypothesis picks one enabled spec action at a time; the same action is run on the
cores, and every server's projection and the messages in flight must equal the
spec's after every step.  Actions the spec says are disabled must be refused by
the core without any change.
"""
from __future__ import annotations

import copy
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leaderfollower.impl.core import CoreConfig, RaftCore
from leaderfollower.spec.params import Params
from leaderfollower.spec.raft import RaftSpec

SERVER_ACTIONS = {"Timeout", "Restart", "BecomeLeader", "AdvanceCommitIndex"}
PAIR_ACTIONS = {"RequestVote", "AppendEntries"}


def run_lockstep(data: Any, params: Params, steps: int) -> None:
    spec = RaftSpec(params)
    state = spec.init()
    cores = [RaftCore(i, CoreConfig(params.servers, params.max_entries_per_append)) for i in range(params.servers)]
    bag: Counter[tuple[Any, ...]] = Counter()
    for _ in range(steps):
        options = [(a, s) for a, s in spec.successors(state) if spec.within_bounds(s)]
        if not options:
            break
        action, nxt = pick(data, options)
        check_disabled_refused(spec, state, cores)
        name, args = action
        if name in SERVER_ACTIONS:
            assert getattr(cores[args[0]], _snake(name))(), action
        elif name in PAIR_ACTIONS:
            assert getattr(cores[args[0]], _snake(name))(args[1]), action
        elif name == "ClientRequest":
            assert cores[args[0]].client_request(args[1])
        elif name == "DuplicateMessage":
            bag[args[0]] += 1
        elif name == "DropMessage":
            bag[args[0]] -= 1
            bag += Counter()
        else:
            m = args[0]
            assert cores[m.mdest].check_message(m) is None, f"a message of the spec refused: {m}"
            got = cores[m.mdest].receive(m)
            assert got is not None and got.action == name, (action, got)
            if got.consumed:
                bag[m] -= 1
                bag += Counter()
        for core in cores:
            for m in core.ready().messages:
                bag[m] += 1
        state = nxt
        for i, core in enumerate(cores):
            assert tuple(core.project()) == tuple(state.servers[i]), f"server {i} after {action}"
        assert bag == Counter(dict(state.messages)), f"messages after {action}"


WEIGHTS = {"Timeout": 1, "Restart": 1, "DuplicateMessage": 1, "DropMessage": 1, "RequestVote": 3,
           "AppendEntries": 3, "ClientRequest": 2, "BecomeLeader": 20, "AdvanceCommitIndex": 3}
"""Progress actions are likelier, so that walks reach leaders and commits (handlers weigh 8)."""


def pick(data: Any, options: list[Any]) -> Any:
    weights = [WEIGHTS.get(a.name, 8) for a, _ in options]
    k = data.draw(st.integers(0, sum(weights) - 1), label="action")
    for option, w in zip(options, weights):
        if k < w:
            return option
        k -= w
    raise AssertionError("unreachable")


def check_disabled_refused(spec: RaftSpec, state: Any, cores: list[RaftCore]) -> None:
    for i, core in enumerate(cores):
        probes = [("timeout", (), spec.timeout(state, i)), ("become_leader", (), spec.become_leader(state, i)),
                  ("client_request", (0,), spec.client_request(state, i, 0)),
                  ("advance_commit_index", (), spec.advance_commit_index(state, i))]
        probes += [("request_vote", (j,), spec.request_vote(state, i, j)) for j in spec.server_ids]
        probes += [("append_entries", (j,), spec.append_entries(state, i, j)) for j in spec.server_ids]
        for method, args, nxt in probes:
            if nxt is None:
                trial = copy.deepcopy(core)
                before = trial.project()
                assert not getattr(trial, method)(*args), f"server {i}: {method}{args} should be disabled"
                assert trial.project() == before and not trial.ready().messages


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() and k else c.lower() for k, c in enumerate(name))


BOUNDS = dict(values=2, max_term=4, max_log=3, max_copies=2, max_in_flight=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_core_follows_spec_three_servers(data: Any) -> None:
    run_lockstep(data, Params(servers=3, **BOUNDS), steps=60)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_core_follows_spec_with_batched_append_entries(data: Any) -> None:
    run_lockstep(data, Params(servers=3, max_entries_per_append=3, **BOUNDS), steps=60)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_core_follows_spec_two_servers(data: Any) -> None:
    run_lockstep(data, Params(servers=2, **BOUNDS), steps=40)
