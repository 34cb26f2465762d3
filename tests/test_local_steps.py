"""The memoised successors (checker/explore/local_steps.py) give exactly the spec's own search.

Each test runs the same search twice, once with the actions memoised per (server,
bag) and once calling the spec's `successors` on every state, and compares
everything the search produces: the states and their ids, BFS parents and labels,
every transition, coverage, findings and deadlocks.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import pytest
from support.orbits import same_search

from leaderfollower.checker.explore.result import ExploreResult
from leaderfollower.checker.explore.search import explore
from leaderfollower.checker.explore.local_steps import usable
from leaderfollower.spec.params import PRESETS, Params
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import NIL, State
from leaderfollower.spec.variants import VARIANTS


def both(spec: RaftSpec, **kw: object) -> tuple[ExploreResult, ExploreResult]:
    return explore(spec, memoise=True, **kw), explore(spec, memoise=False, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "params",
    [
        PRESETS["tiny"],
        Params(servers=2, values=2, max_term=2, max_log=1, max_copies=2, max_in_flight=1, symmetry=True),
        Params(servers=2, values=1, max_term=2, max_log=2, max_in_flight=1, max_entries_per_append=2),
        pytest.param(PRESETS["small"], marks=pytest.mark.long),
    ],
    ids=["tiny", "two-values-two-copies-symmetric", "batched-appends", "small-symmetric"],
)
def test_memoised_search_is_the_spec_search(params: Params) -> None:
    spec = RaftSpec(params)
    assert usable(spec)
    fast, slow = both(spec, stop_on_violation=False)
    same_search(fast, slow)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_memoised_search_is_the_spec_search_on_every_broken_variant(name: str) -> None:
    cls = VARIANTS[name]
    # Without symmetry the comparison is exact, so a search cut short is comparable too.
    spec = cls(dataclasses.replace(cls.catch_params, symmetry=False))
    assert usable(spec), f"{name} declares local_actions"
    fast, slow = both(spec, stop_on_violation=False, max_states=3000)
    same_search(fast, slow)


class TimeoutResetsNeighbour(RaftSpec):
    """Not local: a timeout also clears the next server's vote."""

    def timeout(self, s: State, i: int) -> Optional[State]:
        t = super().timeout(s, i)
        if t is None:
            return None
        k = (i + 1) % self.params.servers
        servers = list(t.servers)
        servers[k] = servers[k]._replace(voted_for=NIL)
        return State(tuple(servers), t.messages)


class WronglyDeclaredLocal(TimeoutResetsNeighbour):
    local_actions = True

    def timeout(self, s: State, i: int) -> Optional[State]:
        return super().timeout(s, i)


def test_a_subclass_that_overrides_an_action_is_not_trusted_to_be_local() -> None:
    spec = TimeoutResetsNeighbour(PRESETS["tiny"])
    assert not TimeoutResetsNeighbour.local_actions and not usable(spec)
    # It is searched through its own successors, so its (non-local) semantics hold.
    fast, slow = both(spec, stop_on_violation=False)
    same_search(fast, slow)


def test_a_wrong_local_actions_declaration_is_reported_with_the_action() -> None:
    result = explore(WronglyDeclaredLocal(PRESETS["tiny"]))
    (finding,) = result.violations
    assert finding.property == "LocalActions" and finding.action is not None and finding.action.name == "Timeout"
    assert "changed server" in (finding.error or "")


class ReadsNeighbourButClaimsLocal(RaftSpec):
    """Declares local_actions falsely: a timeout's guard reads the next server's term."""

    local_actions = True

    def timeout(self, s: State, i: int) -> Optional[State]:
        if s.servers[(i + 1) % self.params.servers].current_term > s.servers[i].current_term:
            return None
        return super().timeout(s, i)


def test_the_comparison_catches_a_spec_whose_actions_read_another_server() -> None:
    # The memoised search reuses an answer computed for another neighbour: a different
    # search, which `same_search` must notice (reads cannot be checked at run time,
    # hence the declaration and the rule that an override drops it).
    fast, slow = both(ReadsNeighbourButClaimsLocal(PRESETS["tiny"]), stop_on_violation=False)
    with pytest.raises(AssertionError):
        same_search(fast, slow)
