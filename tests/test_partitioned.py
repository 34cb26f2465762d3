"""The partitioned search (checker/distributed/) gives the one-worker explorer's results.

Each test runs the explorer and the partitioned search on local worker processes
(1, 2 or 4 shards) on the same spec and compares what a user sees: state and
transition counts, states per depth, coverage, the violated properties with their
shortest counterexample lengths (the same printed trace without symmetry), the
witnesses' depths, deadlocks and completeness.  Under symmetry each side stores
its own member of an orbit, so the steps that found a state (coverage's new
states, the trace's concrete servers) may differ, as between any two numberings;
the rest must not.  A worker killed in the middle fails the search loudly.
"""
from __future__ import annotations

import dataclasses
import json
import os
import pickle
import re
import signal
import sys
from array import array
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest
from support.cli import check, interrupted_run

from leaderfollower.checker.distributed import local, shard as shard_module
from leaderfollower.checker.distributed.local import LocalBackend
from leaderfollower.checker.distributed.run import explore_partitioned
from leaderfollower.checker.distributed.search import PartitionedSearch, WorkerLost
from leaderfollower.checker.distributed.fingerprints import FingerprintStore
from leaderfollower.checker.distributed.shard import LevelReport, PathStep, Shard, ShardSearch, ShardTotals
from leaderfollower.checker.explore.store import Key
from leaderfollower.checker.explore.result import ExploreResult, Progress
from leaderfollower.checker.explore.search import Search, StopCondition, explore
from leaderfollower.checker.explore.traces import finding_trace, format_finding
from leaderfollower.spec.actions import Action
from leaderfollower.spec.params import PRESETS, Params
from leaderfollower.spec.properties import PROPERTIES, Property
from leaderfollower.spec.state import CANDIDATE, FOLLOWER, LEADER, ServerState, State
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.variants import VARIANTS

SYMMETRIC = Params(servers=2, values=2, max_term=2, max_log=1, max_copies=2, max_in_flight=1, symmetry=True)
BATCHED = Params(servers=2, values=1, max_term=2, max_log=2, max_in_flight=1, max_entries_per_append=2)


def assert_same(one: ExploreResult, many: ExploreResult) -> None:
    """What a user sees of the two searches is the same (see the module comment).

    With symmetry, the counts of a search stopped by a violation depend on which member
    of an orbit each side stores (it decides the order in which a level's states are
    met): they are compared only when `one` stores the shards' members (`ShardSearch`),
    and otherwise the partitioned result must say that they may differ.
    """
    symmetric = one.spec.params.symmetry
    same_members = not symmetric or isinstance(one._store, FingerprintStore)
    stopped = one.stopped_by == "violation"
    assert [(f.property, one.depth[f.state], f.error) for f in one.violations] == [(f.property, many.depth[f.state], f.error) for f in many.violations]
    for a, b in zip(one.violations, many.violations):
        ta, tb = finding_trace(one, a), finding_trace(many, b)
        assert ta.steps == tb.steps
        if not symmetric:
            assert format_finding(ta) == format_finding(tb)
    assert one.complete == many.complete and one.stopped_by == many.stopped_by
    cut = stopped and len(one.states_per_depth) > 1
    if cut and not same_members:
        assert many.counts_note is not None and "symmetry" in many.counts_note
        return
    assert many.counts_note is None or same_members
    assert {k: one.depth[f.state] for k, f in one.witnesses.items()} == {k: many.depth[f.state] for k, f in many.witnesses.items()}
    assert (one.distinct_states, one.transitions, one.diameter, one.frontier) == (many.distinct_states, many.transitions, many.diameter, many.frontier)
    assert one.states_per_depth == many.states_per_depth
    assert (len(one.deadlocks), one.unexpanded_states) == (len(many.deadlocks), many.unexpanded_states)
    if same_members:
        assert one.coverage == many.coverage
    else:
        assert {k: (c.enabled, c.within_bounds) for k, c in one.coverage.items()} == {k: (c.enabled, c.within_bounds) for k, c in many.coverage.items()}
        assert sum(c.new_states for c in many.coverage.values()) == many.distinct_states - 1


def same_members(spec: RaftSpec, stop_on_violation: bool = True, props: Optional[tuple[Property, ...]] = None) -> ExploreResult:
    """The one-worker explorer storing each orbit's member with the smallest fingerprint, as the shards do."""
    return ShardSearch(spec, props, keep_graph=False, stop_on_violation=stop_on_violation).run()


@pytest.mark.parametrize("workers", [1, 2, 4])
@pytest.mark.parametrize("params", [PRESETS["tiny"], SYMMETRIC, BATCHED], ids=["tiny", "symmetric", "batched"])
def test_the_correct_spec_gives_the_same_counts_coverage_and_witnesses(params: Params, workers: int) -> None:
    spec = RaftSpec(params)
    one = explore(spec, keep_graph=False)
    many = explore_partitioned(spec, workers=workers)
    assert many.complete and many.ok and many.distinct_states > 1000
    assert_same(one, many)


CHEAP_VARIANTS = ["non-majority-quorum", "vote-not-persisted", "stale-vote-counted"]
"""The shipped variants whose catching model takes seconds (the other three need 0.3-1.1 million states)."""


@pytest.mark.parametrize("name", CHEAP_VARIANTS)
def test_a_broken_variant_stops_where_one_worker_stops(name: str) -> None:
    # The same shortest counterexample, and the same counts, coverage, states per depth
    # and states left unexpanded as the one-worker search stopping in the middle of the
    # level: the explorer's own without symmetry, the one storing the shards' orbit
    # members with it (and then the result says the explorer's may differ).
    cls = VARIANTS[name]
    spec = cls(cls.catch_params)
    one = explore(spec, keep_graph=False)
    members = same_members(spec) if spec.params.symmetry else one
    for workers in (1, 2, 4):
        many = explore_partitioned(spec, workers=workers)
        assert many.violations and many.violations[0].property == cls.breaks and many.stopped_by == "violation"
        assert many.frontier > 0 and len(many.states_per_depth) > 2  # stopped inside a level, past the first
        assert_same(one, many)
        assert_same(members, many)
        assert (many.counts_note is not None) == spec.params.symmetry


def no_candidate(spec: RaftSpec, s: State) -> bool:
    """No server is a candidate: broken by the first step of every run."""
    return all(srv.role != CANDIDATE for srv in s.servers)


def no_leader(spec: RaftSpec, s: State) -> bool:
    """No server is a leader: broken in the middle of a level well past the first."""
    return all(srv.role != LEADER for srv in s.servers)


def with_property(name: str, holds: Callable[[RaftSpec, State], bool]) -> tuple[Property, ...]:
    """The spec's properties and one that the correct spec breaks."""
    return (*PROPERTIES, Property(name, "always", holds.__doc__ or name, holds=holds, servers_only=True))


def test_a_violation_in_the_first_level_is_cut_where_one_worker_stops() -> None:
    # The initial state's successors break the property: the cut is in level 0.
    spec, props = RaftSpec(PRESETS["tiny"]), with_property("NoCandidate", no_candidate)
    one = explore(spec, props, keep_graph=False)
    assert one.states_per_depth[0] == 1 and one.violations[0].property == "NoCandidate"
    for workers in (1, 2, 4):
        many = explore_partitioned(spec, props, workers=workers)
        assert many.counts_note is None
        assert_same(one, many)


@pytest.mark.parametrize("params", [PRESETS["tiny"], SYMMETRIC], ids=["tiny", "symmetric"])
def test_a_violation_met_inside_a_level_cuts_every_shards_figures(params: Params) -> None:
    # The culprit is not the level's last state, so the one-worker search leaves part
    # of the level and of the next one out: each shard must keep a prefix of its own.
    spec, props = RaftSpec(params), with_property("NoLeader", no_leader)
    one = same_members(spec, props=props)
    culprit_depth = one.depth[one.violations[0].state] - 1
    full = explore(spec, keep_graph=False).states_per_depth
    assert one.frontier > one.states_per_depth[-1] and one.states_per_depth[-1] < full[culprit_depth + 1]
    for workers in (2, 4):
        assert_same(one, explore_partitioned(spec, props, workers=workers))
    if not params.symmetry:
        assert_same(explore(spec, props, keep_graph=False), explore_partitioned(spec, props, workers=2))


class DeadEnds(RaftSpec):
    """The spec, but two candidates with nothing in flight, the first having a vote, have nowhere to go.

    A few of these dead ends are in every third level from depth 5, among them some
    before and some after the first leader's parent in its level (depth 8 of `tiny`)."""

    name = "dead-ends"

    def successors(self, s: State) -> Iterator[tuple[Action, State]]:
        if all(srv.role == CANDIDATE for srv in s.servers) and s.servers[0].votes_granted and not s.messages:
            return iter(())
        return super().successors(s)


def test_a_cut_keeps_the_deadlocks_of_the_states_expanded_up_to_the_culprit() -> None:
    # The one-worker search counts the dead ends of its last level up to the culprit
    # only; each shard must drop its dead ends met after the culprit, whichever way it cuts.
    spec, props = DeadEnds(PRESETS["tiny"]), with_property("NoLeader", no_leader)
    one = explore(spec, props, keep_graph=False)
    full = explore(spec, keep_graph=False, stop_on_violation=False)
    culprit_depth = one.depth[one.violations[0].state] - 1
    at_culprit_depth = [sid for sid in full.deadlocks if full.depth[sid] == culprit_depth]
    assert 0 < len([sid for sid in one.deadlocks if one.depth[sid] == culprit_depth]) < len(at_culprit_depth)
    for workers in (1, 2, 4):
        many = explore_partitioned(spec, props, workers=workers)
        assert_same(one, many)
        assert sorted(many.depth[sid] for sid in many.deadlocks) == sorted(one.depth[sid] for sid in one.deadlocks)


def candidate_steps_down(spec: RaftSpec, before: ServerState, after: ServerState) -> bool:
    """No candidate steps down to follower (a restart does, from depth 1)."""
    return not (before.role == CANDIDATE and after.role == FOLLOWER)


def not_all_at_term_two(spec: RaftSpec, s: State) -> bool:
    """Not every server is at term 2."""
    return not all(srv.current_term == 2 for srv in s.servers)


def test_a_step_and_a_state_broken_by_one_states_transitions_are_listed_in_the_one_worker_order() -> None:
    # From the first state of depth 1, an earlier transition (the other server's
    # timeout, index 1) reaches a state breaking the state property before a later one
    # (the candidate's restart, index 2) breaks the step property: listed in that order,
    # by the transitions' indices, whichever shard judged what.
    spec = RaftSpec(PRESETS["tiny"])
    props = (
        *PROPERTIES,
        Property("NotAllAtTermTwo", "always", "", holds=not_all_at_term_two, servers_only=True),
        Property("NoStepDown", "action", "", step_holds=candidate_steps_down),
    )
    one = explore(spec, props, keep_graph=False)
    assert [(f.property, one.depth[f.state]) for f in one.violations] == [("NotAllAtTermTwo", 2), ("NoStepDown", 1)]
    for workers in (1, 2, 4):
        assert_same(one, explore_partitioned(spec, props, workers=workers))


@pytest.mark.parametrize("workers", [2, 4])
@pytest.mark.parametrize("params", [PRESETS["tiny"], SYMMETRIC], ids=["tiny", "symmetric"])
def test_without_stopping_every_propertys_first_violation_is_the_same(params: Params, workers: int) -> None:
    spec = VARIANTS["non-majority-quorum"](params)
    one = explore(spec, keep_graph=False, stop_on_violation=False)
    many = explore_partitioned(spec, workers=workers, stop_on_violation=False)
    assert many.violations and many.complete and many.counts_note is None
    assert_same(one, many)
    if params.symmetry:
        assert_same(same_members(spec, stop_on_violation=False), many)


def stop_in_level(depth: int) -> StopCondition:
    """Stop at the second look within one level at `depth` or deeper: the first look while the shards expand it."""
    looks: Counter[int] = Counter()

    def stop_when(p: Progress) -> Optional[str]:
        looks[p.depth] += 1
        return "interrupted" if p.depth >= depth and looks[p.depth] >= 2 else None

    return stop_when


def stopped_after(spec: RaftSpec, expanded: int) -> ExploreResult:
    """The one-worker search (storing the shards' members under symmetry) stopped once it has expanded `expanded` states."""
    search = (ShardSearch if spec.params.symmetry else Search)(spec, PROPERTIES, keep_graph=False)
    return search.run(stop_when=lambda p: "interrupted" if p.states - p.queue >= expanded else None, check_every=1)


@pytest.mark.parametrize("symmetry", [False, True], ids=["plain", "symmetric"])
def test_a_stop_asked_while_the_shards_expand_cuts_the_level_where_every_shard_got_to(monkeypatch: pytest.MonkeyPatch, symmetry: bool) -> None:
    # The driver looks every 5 ms and the shards every 50 states, so the stop lands
    # early in the level; the result must be the one-worker search's stopped after
    # as many states, in the middle of the same level.
    monkeypatch.setattr(local, "POLL_SECONDS", 0.005)
    monkeypatch.setattr(shard_module, "STOP_CHECK_EVERY", 50)
    spec = RaftSpec(Params(servers=3, values=1, max_term=2, max_log=0, symmetry=symmetry))
    many = explore_partitioned(spec, workers=2, stop_when=stop_in_level(14))
    assert many.stopped_by == "interrupted" and not many.complete and many.counts_note is None
    assert len(many.states_per_depth) == 16 and many.frontier > many.states_per_depth[-1]  # level 14 was cut
    assert_same(stopped_after(spec, many.distinct_states - many.frontier), many)


def test_a_state_limit_stops_the_search_and_says_so() -> None:
    many = explore_partitioned(RaftSpec(PRESETS["tiny"]), workers=2, max_states=100)
    assert not many.complete and many.stopped_by == "max-states" and many.frontier > 0
    assert many.incomplete_because == "state limit reached"


def test_progress_reports_each_shards_states_and_memory() -> None:
    seen: list[Progress] = []
    explore_partitioned(RaftSpec(PRESETS["tiny"]), workers=2, progress=seen.append)
    last = seen[-1]
    assert last.states == 1645 and len(last.shard_states) == 2 and sum(last.shard_states) == 1645  # type: ignore[attr-defined]
    assert all(m > 1_000_000 for m in last.shard_memory)  # type: ignore[attr-defined]


def test_progress_is_also_reported_while_the_shards_expand_a_level(monkeypatch: pytest.MonkeyPatch) -> None:
    # A look every 2 ms: the levels of this model take tens of milliseconds to expand,
    # so there are more reports than levels, each with the last finished level's figures.
    monkeypatch.setattr(local, "POLL_SECONDS", 0.002)
    seen: list[Progress] = []
    result = explore_partitioned(RaftSpec(PRESETS["small"]), workers=2, progress=seen.append)
    levels = len(result.states_per_depth)
    assert len(seen) > levels + 5
    assert [p.states for p in seen] == sorted(p.states for p in seen) and seen[-1].states == result.distinct_states
    assert {p.states for p in seen} == {sum(result.states_per_depth[: d + 1]) for d in range(levels)}


def test_a_killed_worker_fails_the_search_with_a_clear_error() -> None:
    spec = RaftSpec(PRESETS["tiny"])
    with LocalBackend(spec, PROPERTIES, 2) as backend:
        search = PartitionedSearch(spec, backend)

        def kill_at_depth_3(p: Progress) -> None:
            if p.depth == 3:
                os.kill(backend.procs[1].pid, signal.SIGKILL)

        with pytest.raises(WorkerLost, match=r"worker 1 \(pid \d+\) stopped \(exit code -9\)"):
            search.run(progress=kill_at_depth_3)


class InProcess:
    """A `Backend` that runs its shards one after the other in this process, so a test can look inside them."""

    def __init__(self, spec: RaftSpec, workers: int, memoise: bool = True) -> None:
        self.workers = workers
        self.shards = [Shard(spec, PROPERTIES, k, workers, memoise) for k in range(workers)]
        self.sent: list[list[set[Key]]] = [[set() for _ in range(workers)] for _ in range(workers)]
        self.resent = 0

    def start(self) -> list[tuple[bytes, LevelReport]]:
        return [s.start() for s in self.shards]

    def level(self, rank_lists: list[bytes], stop_now: Callable[[], bool]) -> tuple[list[LevelReport], list[tuple[bytes, LevelReport]]]:
        expanded = [s.expand(rank_lists) for s in self.shards]
        n = self.shards[0].n
        for sender, (batches, _) in enumerate(expanded):
            for owner, payload in enumerate(batches):
                if owner == sender:
                    continue
                *_, flat_bytes = pickle.loads(payload)
                flat = array("q")
                flat.frombytes(flat_bytes)
                keys = {tuple(flat[j : j + n + 1]) for j in range(0, len(flat), n + 5)}
                self.resent += len(keys & self.sent[sender][owner])
                self.sent[sender][owner] |= keys
        absorbed = [s.absorb([batches[k] for batches, _ in expanded]) for k, s in enumerate(self.shards)]
        return [report for _, report in expanded], absorbed

    def cut(self, culprit: int) -> list[LevelReport]:
        return [s.cut(culprit) for s in self.shards]

    def path_step(self, shard: int, sid: int) -> PathStep:
        return self.shards[shard].path_step(sid)

    def totals(self) -> list[ShardTotals]:
        return [s.totals() for s in self.shards]

    def close(self) -> None:
        pass


def test_a_state_sent_to_its_owner_is_not_sent_again_in_a_later_level() -> None:
    spec = RaftSpec(PRESETS["tiny"])
    backend = InProcess(spec, 2)
    many = PartitionedSearch(spec, backend).run()
    assert_same(explore(spec, keep_graph=False), many)
    assert sum(len(sent) for row in backend.sent for sent in row) > 500
    assert backend.resent == 0


def test_a_batch_read_against_the_wrong_table_of_parts_is_refused() -> None:
    # A batch names parts by its sender's ids and carries the parts interned since the
    # sender's last batch: one absorbed twice (or one missed) would map ids to the wrong
    # parts, so the owner refuses it, naming the sender.
    spec = RaftSpec(PRESETS["tiny"])
    shards = [Shard(spec, PROPERTIES, k, 2) for k in range(2)]
    ranks = [s.start()[0] for s in shards]
    batches = [s.expand(ranks)[0] for s in shards]
    inbox = [batches[0][1], b""]  # shard 0's first batch to shard 1: it starts its tables at 0
    shards[1].absorb(inbox)
    with pytest.raises(ValueError, match="shard 0's batch continues its tables from 0, 0, not [1-9]"):
        shards[1].absorb(inbox)


@pytest.mark.parametrize("memoise", [True, False], ids=["memoised", "spec-successors"])
@pytest.mark.parametrize("params", [PRESETS["tiny"], SYMMETRIC], ids=["tiny", "symmetric"])
def test_every_state_is_stored_by_its_owner_and_only_there(params: Params, memoise: bool) -> None:
    # Routing decides where a state lives; a successor kept by the wrong shard would still
    # give the right counts if nothing else ever met it there, so look at the stores.  Without
    # the memo every transition comes from `RaftSpec.successors`, where any server may have
    # changed: its owner is computed from all of it, not from its parent's.
    spec = RaftSpec(params)
    backend = InProcess(spec, 2, memoise)
    many = PartitionedSearch(spec, backend).run()
    assert many.complete and many.distinct_states > 1000
    assert_same(explore(spec, keep_graph=False, memoise=memoise), many)
    assert sum(len(shard.store.keys) for shard in backend.shards) == many.distinct_states
    for shard in backend.shards:
        store = shard.store
        assert len(store.keys) > many.distinct_states // 4
        for key in store.keys:
            assert store.canonical_and_owner(key, 2) == (key, shard.index)


def test_the_memory_of_sent_states_may_be_cleared_without_changing_the_result() -> None:
    spec = RaftSpec(PRESETS["tiny"])
    backend = InProcess(spec, 2)
    for shard in backend.shards:
        shard.sent_cap = 20  # cleared after almost every level
    many = PartitionedSearch(spec, backend).run()
    assert_same(explore(spec, keep_graph=False), many)
    assert backend.resent > 0  # forgotten states were sent again, and the owner dropped them


# ----------------------------------------------------------------- the command line


def untimed_document(*args: str) -> dict[str, Any]:
    """`check --json`'s document without the figures that depend on the clock."""
    doc: dict[str, Any] = json.loads(check(*args, "--json").stdout)  # stdout alone: a slow run also prints progress lines
    del doc["seconds"], doc["states_per_second"], doc["liveness_seconds"]
    return doc


def test_check_workers_prints_the_same_document_as_one_worker(in_tmp: object) -> None:
    # --no-graph: the partitioned search keeps no graph either, so both skip the liveness properties.
    one = untimed_document("--preset", "tiny", "--no-graph")
    two = untimed_document("--preset", "tiny", "--workers", "2")
    assert two == one


def test_check_workers_prints_the_same_counterexample(in_tmp: object) -> None:
    cls = VARIANTS["non-majority-quorum"]
    args = ["--spec", cls.name, "--servers", "2", "--max-term", "2", "--max-log", "0"]
    one, two = check(*args), check(*args, "--workers", "2")
    assert one.exit_code == two.exit_code == 1
    trace = lambda out: out[out.index("violated after"):]  # noqa: E731
    assert trace(two.output) == trace(one.output)
    # Stopped in the middle of a level, the documents are the same too (counts, coverage,
    # depths), without symmetry (with it, see the next test).
    docs = [untimed_document(*args, "--no-symmetry", *more) for more in ([], ["--workers", "2"])]
    assert docs[0]["stopped_by"] == "violation" and docs[1] == docs[0]


@pytest.mark.parametrize("workers", ["2", "3"])
def test_at_three_servers_where_most_successors_stay_in_their_shard_the_document_is_the_same(in_tmp: object, workers: str) -> None:
    # With three servers a successor that changed only the third server (or only the
    # bag) stays in its parent's shard without computing its owner (the two-server
    # tests above never take that path); stopped by a violation in the middle of a
    # level, every count must still be the one-worker search's.
    args = ["--spec", "vote-not-persisted", "--servers", "3", "--max-term", "2", "--max-log", "0", "--no-symmetry", "--no-graph"]
    docs = [untimed_document(*args, *more) for more in ([], ["--workers", workers])]
    assert docs[0]["stopped_by"] == "violation" and docs[0]["distinct_states"] > 100_000
    assert docs[1] == docs[0]


def test_check_workers_says_when_symmetry_makes_the_counts_at_a_violation_differ(in_tmp: object) -> None:
    cls = VARIANTS["vote-not-persisted"]
    result = check("--spec", cls.name, "--servers", "3", "--max-term", "2", "--max-log", "0", "--symmetry", "--workers", "2")
    assert result.exit_code == 1
    assert "counts: with symmetry, the counts at a violation are those of a one-worker search" in " ".join(result.output.split())


def test_check_workers_refuses_to_dump_a_graph_it_does_not_keep(in_tmp: object) -> None:
    result = check("--preset", "tiny", "--workers", "2", "--dump-graph", "g.graphml")
    assert result.exit_code == 2 and "--dump-graph needs the graph, which --workers and --ray do not keep" in result.output


def test_check_workers_honours_a_state_budget_and_says_incomplete(in_tmp: object) -> None:
    result = check("--preset", "small", "--workers", "2", "--max-states", "200")
    assert result.exit_code == 3, result.output
    assert "incomplete (bounded by --max-states 200)" in " ".join(result.output.split())


@pytest.mark.parametrize("depth", ["5", "40"])
def test_check_workers_honours_a_depth_budget_as_one_worker_does(in_tmp: object, depth: str) -> None:
    # Within 5 steps of a model of diameter 25 (incomplete, exit 3); within 40, all of it.
    one = untimed_document("--preset", "tiny", "--no-graph", "--max-depth", depth)
    assert one["complete"] == (depth == "40") and one["distinct_states"] > 10
    assert untimed_document("--preset", "tiny", "--workers", "2", "--max-depth", depth) == one


def test_check_workers_interrupted_by_sigterm_prints_what_it_has_and_says_incomplete(in_tmp: object) -> None:
    command = [str(Path(sys.executable).parent / "leaderfollower"), "check", "--preset", "full", "--workers", "2", "--json", "--progress-every", "0.2"]
    code, out, err = interrupted_run(command, "exploring: states", signal.SIGTERM)
    assert code == 143, err
    doc = json.loads(out)
    assert doc["verdict"] == "incomplete" and doc["stopped_by"] == "interrupted" and not doc["complete"]
    assert 0 < doc["distinct_states"] < 1_931_973 and sum(doc["states_per_depth"]) == doc["distinct_states"]
    assert all(row["status"] != "holds" for row in doc["properties"])
    assert "Traceback" not in err


def test_the_four_server_preset_catches_a_quorum_rule_that_three_servers_hide(in_tmp: object) -> None:
    # Half the servers as a quorum: at three servers 2 * 2 >= 3 is a majority anyway.
    hidden = untimed_document("--preset", "small", "--spec", "non-majority-quorum", "--no-graph")
    assert hidden["complete"] and all(row["status"] != "violated" for row in hidden["properties"])
    found = [untimed_document("--preset", "four", "--spec", "non-majority-quorum", *more) for more in (["--no-graph"], ["--workers", "2"])]
    for doc in found:
        violated = {row["name"]: row["depth"] for row in doc["properties"] if row["status"] == "violated"}
        assert violated == {"ElectionSafety": 18}, violated


def test_check_workers_progress_lines_say_each_shards_memory(in_tmp: object) -> None:
    result = check("--preset", "tiny", "--workers", "2", "--progress-every", "0.001")
    assert result.exit_code == 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("exploring: states")]
    assert lines and all(re.search(r", shards [\d,]+ [\d,]+ MB, \d+ s$", line) for line in lines)


@pytest.mark.parametrize("symmetry", [False, True])
def test_every_shard_stores_only_states_it_owns_and_a_fair_share_of_them(symmetry: bool) -> None:
    # The expansion routes most successors by a shortcut (one that changed none of
    # the servers deciding the owner stays in its parent's shard); every stored state
    # must still be one the owner function gives to that shard, or two shards could
    # hold one state.  And the first servers alone must still spread the states
    # about evenly.  (Without symmetry the three-server model is cut short by a
    # state budget: the test above compares whole documents.)
    spec = RaftSpec(dataclasses.replace(PRESETS["small"], symmetry=symmetry))
    backend = InProcess(spec, 3)
    many = PartitionedSearch(spec, backend).run(max_states=None if symmetry else 60_000)
    if symmetry:
        assert_same(explore(spec, keep_graph=False), many)
    for index, shard in enumerate(backend.shards):
        store = shard.store
        assert store.keys and all(store.canonical_and_owner(key, 3) == (key, index) for key in store.keys)
        assert len(store.keys) > many.distinct_states / 4, [len(s.store.keys) for s in backend.shards]
