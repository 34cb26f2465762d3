"""One worker's part of the partitioned search: the states it owns, their expansion, and its findings.

How this works: the search is level-synchronous.  At each level every shard
expands the states of the current depth that it owns (`expand`), in the order the
one-worker search would (by *rank*, below), and sorts each successor to the shard
that owns its orbit (`FingerprintStore.canonical_and_owner`).  A successor the
shard already holds is dropped at once; a new one it owns itself is stored at
once, with its parent (shard, id), label and rank, as the explorer stores it; of
several successors with one key for another shard in one level only the first is
sent.  Then every shard takes the batches meant for it (`absorb`), stores the new
states, keeps each state's first discovery in the level (a received candidate of
smaller rank replaces the parent of one found here), and judges the level's new
states in rank order with the explorer's own `PropertyVisitor`.  Successors come
from the explorer's own `Search.expand` (memoised local steps, errors recorded as
findings).

Ranks make the result the one-worker search's.  The one-worker search numbers the
states of depth d+1 in order of (rank of the parent at depth d, index of the
transition among the parent's), keeps that first discovery as the BFS parent, and
meets its findings in that order.  A candidate carries `parent rank << 16 | index`;
after a level, every shard gets every shard's sorted list of these values for its
new states and turns its own into compact global ranks (`bisect`), the parents'
ranks of the next level.  So parents, coverage of new states, and which finding is
first are the same as with one worker (without symmetry; with symmetry, up to which
member of an orbit is stored, as between any two numberings).  A shard's ids follow
discovery, not rank (received states come after its own), so each level's states
are kept as a list of ids in rank order (`frontier`), the order they are expanded.

On the wire a state is the sender's interned ids of the representative's parts.
Each batch to an owner carries the parts (server states, bags) the sender interned
since its last batch to that owner, so the owner's per-sender table from the
sender's ids to its own grows in the sender's order.  A batch is one pickled tuple
(where the new parts start, the new parts, a flat `array('q')` of `n + 5` integers
per candidate).  A shard's states for itself never go on the wire.
"""
from __future__ import annotations

import os
import pickle
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from dataclasses import dataclass, field
from itertools import repeat
from typing import Callable, NamedTuple, Optional, Sequence

from leaderfollower.spec.actions import Action
from leaderfollower.spec.properties import Property
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import State

from leaderfollower.checker.distributed.fingerprints import FingerprintStore
from leaderfollower.checker.explore.local_steps import Step
from leaderfollower.checker.explore.result import Finding
from leaderfollower.checker.explore.search import Labels, Search
from leaderfollower.checker.explore.visitor import PropertyVisitor
from leaderfollower.checker.explore.store import Key, StateStore

INDEX_BITS = 16
"""Bits of a candidate's rank that hold the transition's index among its parent's."""

STOP_CHECK_EVERY = 1000
"""States a shard expands between two looks at whether the driver asked it to stop."""

SENT_CAP = 4_000_000
"""Keys a shard remembers having sent (about 100 bytes each); past this the memory is cleared and refilled."""

Order = tuple[int, int, int, int]
"""Where the one-worker search meets a finding: (depth expanded, parent rank, transition index, phase).

Phase 0 is a step (an action property, an action that raised: index -1), phase 1 a new state."""

PathStep = tuple[int, int, int, State, int]
"""A stored state and its BFS parent: (parent's shard, parent's id there, label id in the
parent's shard, the state, its depth); parent id -1 for the initial state."""


@dataclass
class Tagged:
    """A finding of one shard, with where the one-worker search would have met it."""

    order: Order
    shard: int
    finding: Finding
    target: Optional[State] = None
    """For an action property: the state the violating step led to (the stored representative)."""


@dataclass
class LevelReport:
    """What one shard did in one level: counts, and the findings it made, in its own order."""

    shard: int
    new_states: int = 0
    transitions: int = 0
    deadlocks: int = 0
    unexpanded: int = 0
    stored: int = 0
    memory: int = 0
    next_rank: int = -1
    """The global rank of the first state this shard left unexpanded because a stop was
    asked in the middle of the level (`expand`); -1: it expanded its whole frontier."""
    findings: list[Tagged] = field(default_factory=list)
    witnesses: list[Tagged] = field(default_factory=list)


@dataclass
class ShardTotals:
    """What a shard holds at the end: coverage by its own action numbering, its labels, its deadlocks."""

    names: list[str]
    enabled: list[int]
    within_bounds: list[int]
    new_by_sender: dict[tuple[int, int], int]
    """(sending shard, its action name index) -> new states that action found here."""
    labels: list[Action]
    deadlocks: list[int]
    states_per_depth: list[int]


class ShardSearch(Search):
    """The explorer's `Search`, storing states by fingerprint order (so every shard picks the same representative)."""

    def make_store(self) -> StateStore:
        """A `FingerprintStore`."""
        return FingerprintStore(self.spec, self.spec.params.symmetry)


class _RouteContext(NamedTuple):
    """What `Shard._route` reads, bound once per level."""

    store: FingerprintStore
    visitor: PropertyVisitor
    labels: Labels
    keys: list[Key]
    seen: dict[Key, int]
    enabled: list[int]
    within: list[int]
    n: int
    workers: int
    me: int
    sent: set[Key]
    boxes: list[dict[Key, tuple[int, ...]]]
    add: Callable[[Key, int, int, int], int]
    depth: int
    level_ranks: list[int]
    level_senders: list[int]
    level_names: list[int]
    check_steps: bool
    fast: bool
    so: list[int]
    deciding: int


def resident_memory() -> int:
    """This process's resident memory in bytes (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


class Shard:
    """One worker's shard of the search (see the module comment); driven by `PartitionedSearch`."""

    def __init__(
        self,
        spec: RaftSpec,
        properties: Sequence[Property],
        index: int,
        workers: int,
        memoise: bool = True,
        stop_asked: Optional[Callable[[], bool]] = None,
    ) -> None:
        self.spec = spec
        self.stop_asked: Callable[[], bool] = stop_asked or (lambda: False)
        """Whether the driver asked the search to stop; `expand` looks every `STOP_CHECK_EVERY` states."""
        self.index = index
        self.workers = workers
        self.search = ShardSearch(spec, properties, keep_graph=False, stop_on_violation=False, memoise=memoise)
        store = self.search.store
        assert isinstance(store, FingerprintStore)
        self.store: FingerprintStore = store
        self.visitor = self.search.visitor
        self.n = spec.params.servers
        self.parent_shard = array("h")
        self.level = -1
        self.frontier: list[int] = []
        """The ids of the states of the current depth, in the order the one-worker search expands them (by rank)."""
        self.frontier_ranks: list[int] = []
        """Their ranks (sorted): `parent rank << INDEX_BITS | transition index` (see the module comment)."""
        self.parts_sent: list[tuple[int, int]] = [(0, 0)] * workers
        """How many server states and bags of this shard's tables each other shard has been sent."""
        self.from_servers: list[list[int]] = [[] for _ in range(workers)]
        """Per sending shard, its server ids' ids here (by the sender's id)."""
        self.from_bags: list[list[int]] = [[] for _ in range(workers)]
        """Per sending shard, its bag ids' ids here (by the sender's id)."""
        self.new_by_sender: Counter[tuple[int, int]] = Counter()
        self.sent_keys: set[Key] = set()
        """Keys sent to other shards in earlier levels: their owners hold them now, so they need not go again."""
        self.sent_cap = SENT_CAP
        self._reported_witnesses: set[str] = set()
        self._level_first = 0
        """The id of the first state stored in the level being built (the states one step past the frontier)."""
        self._level_ranks: list[int] = []
        """The rank of each state stored in that level so far, by id from `_level_first`."""
        self._level_senders: list[int] = []
        """The shard holding each one's BFS parent, by id from `_level_first`."""
        self._level_names: list[int] = []
        """The action name index (in that shard's numbering) that found each one first, by id from `_level_first`."""
        self._expanded: list[int] = []
        """The ids of the states expanded in the last level, in order (for `cut`)."""
        self._expanded_transitions = 0
        """The transitions the last level's expansion kept (for `cut`)."""
        self._expanded_ranks: list[int] = []
        """Their global ranks, in the same order (for `cut`)."""
        self._counts_before: tuple[list[int], list[int], int, int] = ([], [], 0, 0)
        """Coverage (enabled, within bounds), deadlocks and unexpanded states before the last level (for `cut`)."""
        init = spec.init()
        self.steps_of: Callable[[Key, int], list[Step]] = self.search.successor_function(spec.within_bounds(init))

    # ------------------------------------------------------------ levels

    def start(self) -> tuple[bytes, LevelReport]:
        """Store and judge the initial state if this shard owns it; its rank list and report."""
        store = self.store
        init = self.spec.init()
        key, owner = store.canonical_and_owner(store.raw_key(init), self.workers)
        report = LevelReport(self.index)
        ranks: list[int] = []
        if owner == self.index:
            sid = store.add(key, -1, -1, 0)
            self.parent_shard.append(-1)
            if self.spec.within_bounds(init):
                self._judge_state(sid, key, (-1, 0, 0, 1), report)
            ranks.append(0)
            report.new_states = 1
        self.level = 0
        self.frontier = list(range(len(store.keys)))
        self.frontier_ranks = ranks
        return self._finish_level(ranks, report)

    def expand(self, rank_lists: Sequence[bytes]) -> tuple[list[bytes], LevelReport]:
        """Expand the frontier (given every shard's rank list of it); one batch per owner, and the report.

        Successors this shard owns are stored at once (`_route`); its slot in the
        list of batches is empty.  When a stop is asked (`stop_asked`) the shard expands
        no further state: the report's `next_rank` says where it stopped, and the level
        goes on as usual (`absorb`) up to the driver's `cut`.
        """
        ranks = self._compact_ranks(rank_lists)
        report = LevelReport(self.index)
        search, visitor, store, me = self.search, self.visitor, self.store, self.index
        labels = search.labels
        self._expanded_ranks = ranks
        self._counts_before = (list(labels.enabled), list(labels.within_bounds), len(search.deadlocks), search.unexpanded)
        while len(store.states_per_depth) <= self.level + 1:
            store.states_per_depth.append(0)
        self._level_first = len(store.keys)
        # Lists, not arrays: an array's append parses its argument, four times the cost of a list's.
        self._level_ranks, self._level_senders, self._level_names = [], [], []
        boxes: list[dict[Key, tuple[int, ...]]] = [{} for _ in range(self.workers)]
        context, route, transitions, limit = self._route_context(boxes), self._route, 0, 1 << INDEX_BITS
        frontier, violations = self.frontier, visitor.violations
        deadlocks_before, unexpanded_before = len(search.deadlocks), search.unexpanded
        stop_asked = self.stop_asked
        self._expanded = frontier
        for k, sid in enumerate(frontier):
            rank = ranks[k]
            # Not before the first state: every shard then expands at least a few, so that
            # a stop asked before a slow shard began still cuts the level after a prefix.
            if k and k % STOP_CHECK_EVERY == 0 and stop_asked():
                report.next_rank = rank
                self._expanded = frontier[:k]
                break
            found = len(violations)
            outgoing = search.expand(sid, self.steps_of)
            if len(outgoing) >= limit:
                raise OverflowError(f"state {sid} has {len(outgoing)} transitions; the rank packs at most {limit}")
            transitions += route(context, sid, outgoing, rank << INDEX_BITS)
            if len(violations) != found:
                self._tag_expansion(found, rank, outgoing, report)
        report.transitions = transitions
        report.deadlocks = len(search.deadlocks) - deadlocks_before
        report.unexpanded = search.unexpanded - unexpanded_before
        self._expanded_transitions = report.transitions
        sent = self.sent_keys
        if len(sent) > self.sent_cap:
            sent.clear()
        for owner, box in enumerate(boxes):
            if owner != me:
                sent.update(box)
        return [b"" if owner == me else self._pack(owner, box) for owner, box in enumerate(boxes)], report

    def _route_context(self, boxes: list[dict[Key, tuple[int, ...]]]) -> "_RouteContext":
        store, visitor, labels = self.store, self.visitor, self.search.labels
        store.sync()
        return _RouteContext(
            store, visitor, labels, store.keys, store.seen, labels.enabled, labels.within_bounds, self.n, self.workers,
            self.index, self.sent_keys, boxes, store.add, self.level + 1, self._level_ranks, self._level_senders,
            self._level_names, bool(visitor.step_props), not store.perms, store.server_owner, store.owner_servers,
        )

    def _route(self, context: "_RouteContext", sid: int, outgoing: list[Step], base: int) -> int:
        """Count one state's transitions, check its steps, store each new successor this shard owns and
        put each new-looking other one in its owner's box; the transitions kept.

        `base` is the state's rank shifted to make room for a transition's index."""
        # Everything the loop needs is bound to a local name, from a tuple made once per
        # level (a dozen attribute look-ups per state add up).
        (store, visitor, labels, keys, seen, enabled, within, n, workers, me, sent, boxes, add, depth,
         level_ranks, level_senders, level_names, check_steps, fast, so, deciding) = context
        s_key = keys[sid]
        # Without symmetry a successor is its own representative; one that changed no
        # server that decides the owner stays here, and one that changed such a server
        # has its parent's sum of owner numbers with that server's swapped.
        if fast:
            # The deciding servers are two (`OWNER_SERVERS`) except in a one-server model:
            # their numbers added without a slice and a `sum` save about 2% of the shards' work.
            servers_sum = so[s_key[0]] + so[s_key[1]] if deciding == 2 else sum(map(so.__getitem__, s_key[:deciding]))
        kept = 0
        for idx, (name, lid, raw, ok, pos) in enumerate(outgoing):
            enabled[name] += 1
            if not ok:
                continue
            within[name] += 1
            kept += 1
            if not fast:
                key, owner = store.canonical_and_owner(raw, workers)
            elif pos >= deciding:  # another server, or only the bag (pos == n)
                key, owner = raw, me
            elif pos >= 0:
                try:
                    owner = (servers_sum - so[s_key[pos]] + so[raw[pos]]) % workers
                except IndexError:  # a server state interned in this level: fingerprinted now
                    store.sync()
                    owner = (servers_sum - so[s_key[pos]] + so[raw[pos]]) % workers
                key = raw
            else:  # a transition from the spec's own successors: any servers may differ
                key, owner = store.canonical_and_owner(raw, workers)
            if check_steps and pos < n:  # a violation is tagged with its index afterwards (`_tag_expansion`)
                visitor.visit_step(sid, s_key, raw, pos, labels.labels[lid], key)
            if owner == me:
                # This shard's own states are met in rank order: the first discovery of a
                # key here is the one the one-worker search meets first among them.
                if key not in seen:
                    add(key, sid, lid, depth)
                    level_ranks.append(base + idx)
                    level_senders.append(me)
                    level_names.append(name)
            elif key not in sent:
                # The first candidate of a key in a level is the one the one-worker search
                # meets first: `setdefault` keeps it, in one look-up.
                boxes[owner].setdefault(key, (base + idx, sid, lid, name))
        return kept

    def absorb(self, batches: Sequence[bytes]) -> tuple[bytes, LevelReport]:
        """Take every shard's batch for this one (in shard order; this shard's own are stored already); store and judge the new states."""
        store = self.store
        seen, n = store.seen, self.n
        stride = n + 5
        add, depth, first = store.add, self.level + 1, self._level_first
        parents, parent_labels = store.parent, store.parent_label
        level_ranks, level_senders, level_names = self._level_ranks, self._level_senders, self._level_names
        for sender, payload in enumerate(batches):
            if sender == self.index:
                continue
            servers_from, new_servers, bags_from, new_bags, flat_bytes = pickle.loads(payload)
            flat = array("q")
            flat.frombytes(flat_bytes)
            ts, tb = self.from_servers[sender], self.from_bags[sender]
            if len(ts) != servers_from or len(tb) != bags_from:
                raise ValueError(f"shard {sender}'s batch continues its tables from {servers_from}, {bags_from}, not {len(ts)}, {len(tb)}")
            ts += map(store.server_id, new_servers)
            tb += map(store.bag_id, new_bags)
            # Column by column, so that the keys are built by `map` and `zip`, not one by one.
            cols = [flat[k::stride] for k in range(stride)]
            keys = zip(*[map(ts.__getitem__, cols[k]) for k in range(n)], map(tb.__getitem__, cols[n]))
            for key, rank, parent, label, name in zip(keys, cols[n + 1], cols[n + 2], cols[n + 3], cols[n + 4]):
                sid = seen.get(key)
                if sid is None:
                    add(key, parent, label, depth)
                    level_ranks.append(rank)
                    level_senders.append(sender)
                    level_names.append(name)
                elif sid >= first and rank < level_ranks[sid - first]:
                    # Found in this level, but first by the sender's state: that is its BFS parent.
                    parents[sid], parent_labels[sid] = parent, label
                    k = sid - first
                    level_ranks[k], level_senders[k], level_names[k] = rank, sender, name
        return self._judge_level()

    def _judge_level(self) -> tuple[bytes, LevelReport]:
        # The level's new states become the frontier, in rank order, and are judged in it.
        store, report = self.store, LevelReport(self.index)
        first, level_ranks = self._level_first, self._level_ranks
        self.parent_shard.extend(self._level_senders)
        self.new_by_sender.update(zip(self._level_senders, self._level_names))
        # Ranks are distinct (one per transition); this shard's own are in order already.
        order = sorted(range(len(level_ranks)), key=level_ranks.__getitem__)
        frontier = [first + k for k in order]
        ranks = [level_ranks[k] for k in order]
        mask = (1 << INDEX_BITS) - 1
        visitor, keys = self.visitor, store.keys
        violations, witnesses = visitor.violations, visitor.witnesses
        judged = len(self._reported_witnesses)
        for sid, rank in zip(frontier, ranks):
            # The judging of `_judge_state`, with its bookkeeping only when something was found.
            found = len(violations)
            visitor.visit_state(sid, keys[sid])
            if len(violations) != found or len(witnesses) != judged:
                self._report_findings(found, (self.level, rank >> INDEX_BITS, rank & mask, 1), report)
                judged = len(self._reported_witnesses)
        report.new_states = len(ranks)
        self.level += 1
        self.frontier = frontier
        self.frontier_ranks = ranks
        return self._finish_level(ranks, report)

    def _finish_level(self, ranks: list[int], report: LevelReport) -> tuple[bytes, LevelReport]:
        report.stored = len(self.store.keys)
        report.memory = resident_memory()
        return array("q", ranks).tobytes(), report

    def _compact_ranks(self, rank_lists: Sequence[bytes]) -> list[int]:
        # A frontier state's global rank: how many states of its depth, in every shard,
        # the one-worker search would have stored before it.
        mine = self.frontier_ranks
        ranks = list(range(len(mine)))
        for other, payload in enumerate(rank_lists):
            if other == self.index:
                continue
            got = array("q")
            got.frombytes(payload)
            theirs = got.tolist()  # bisect on a list reads no boxed copies of the array's items
            # `map` rather than a comprehension: a third less time, all of it in C.
            ranks = list(map(int.__add__, ranks, map(bisect_left, repeat(theirs), mine)))
        return ranks

    # ------------------------------------------------------------ a violation's cut

    def cut(self, culprit: int) -> LevelReport:
        """Bring the last level's figures back to where the one-worker search stops: just after expanding rank `culprit`.

        The one-worker search expands the level's states in rank order and stops after
        the first one whose expansion broke a property (global rank `culprit`, found by
        the driver after the level), or, asked to stop, after the last state every shard
        expanded before it stopped (`LevelReport.next_rank`).  So of this level it has
        counted the transitions, coverage, deadlocks and errors of the states up to
        `culprit`, and stored the new states those found first.  States are expanded
        here in rank order, so both are prefixes: either the coverage, deadlocks and
        errors are restored to before the level and the prefix expanded again, or the
        states expanded after the prefix are expanded again and taken out, whichever
        are fewer (memoised, so cheap, and their findings are already recorded, so a
        cut at the end of a big level costs little); the new states found by later
        states stay in the store but leave the counts (states per depth, coverage's
        new states).  The shard's
        figures are then final: call nothing but `path_step` and `totals` after it.
        The report holds the level's figures after the cut.
        """
        search, labels, store = self.search, self.search.labels, self.store
        enabled_before, within_before, deadlocks_before, unexpanded_before = self._counts_before
        report = LevelReport(self.index)
        expanded = self._expanded
        kept = bisect_right(self._expanded_ranks, culprit)
        if kept <= len(expanded) - kept:
            # Fewer states up to the culprit than after it: count those again from before the level.
            for counts, before in ((labels.enabled, enabled_before), (labels.within_bounds, within_before)):
                counts[:] = before + [0] * (len(counts) - len(before))  # in place: other parts hold these lists
            del search.deadlocks[deadlocks_before:]
            search.unexpanded = unexpanded_before
            report.transitions = self._recount(expanded[:kept], 1)
        else:
            # Fewer after it: take those out of the level's figures (a state that is
            # expanded again appends its deadlock and counts its error again: undone).
            deadlocks_now, unexpanded_now = len(search.deadlocks), search.unexpanded
            report.transitions = self._expanded_transitions + self._recount(expanded[kept:], -1)
            search.unexpanded = 2 * unexpanded_now - search.unexpanded
            del search.deadlocks[deadlocks_now:]
            up_to = set(expanded[:kept])
            search.deadlocks[deadlocks_before:] = [sid for sid in search.deadlocks[deadlocks_before:] if sid in up_to]
        report.deadlocks = len(search.deadlocks) - deadlocks_before
        report.unexpanded = search.unexpanded - unexpanded_before
        # The new states, in rank order, whose first finder is at most the culprit.
        first = self._level_first
        found = bisect_right(self.frontier_ranks, (culprit << INDEX_BITS) | ((1 << INDEX_BITS) - 1))
        for sid in self.frontier[found:]:
            self.new_by_sender[(self.parent_shard[sid], self._level_names[sid - first])] -= 1
        left_out = len(self.frontier) - found
        store.states_per_depth[self.level] -= left_out
        report.new_states = found
        report.stored = len(store.keys) - left_out
        report.memory = resident_memory()
        return report

    def _recount(self, sids: Sequence[int], sign: int) -> int:
        # Expand the states again (memoised) and add `sign` times their transitions to
        # the coverage; `sign` times the transitions kept.
        labels, search = self.search.labels, self.search
        enabled, within = labels.enabled, labels.within_bounds
        kept = 0
        for sid in sids:
            for name, _, _, ok, _ in search.expand(sid, self.steps_of):
                enabled[name] += sign
                if ok:
                    within[name] += sign
                    kept += sign
        return kept

    # ------------------------------------------------------------ findings

    def _judge_state(self, sid: int, key: Key, order: Order, report: LevelReport) -> None:
        found = len(self.visitor.violations)
        self.visitor.visit_state(sid, key)
        self._report_findings(found, order, report)

    def _report_findings(self, since: int, order: Order, report: LevelReport) -> None:
        # The violations found since `since` and the witnesses not reported yet, at `order`.
        visitor = self.visitor
        if len(visitor.violations) != since:
            self._tag(since, order, report)
        if len(visitor.witnesses) != len(self._reported_witnesses):
            for name, finding in visitor.witnesses.items():
                if name not in self._reported_witnesses:
                    self._reported_witnesses.add(name)
                    report.witnesses.append(Tagged(order, self.index, finding))

    def _tag_expansion(self, since: int, rank: int, outgoing: list[Step], report: LevelReport) -> None:
        # The violations met while expanding the state of rank `rank`: an action that raised (index
        # -1), or a step, whose index is that of the first transition with its label and
        # successor (the visitor keeps only the first violation of each property).
        store, labels = self.store, self.search.labels
        for finding in self.visitor.violations[since:]:
            idx, target = -1, None
            if finding.target is not None:
                target = store.build(finding.target)
                idx = next(
                    k for k, (_, lid, raw, ok, _) in enumerate(outgoing)
                    if ok and labels.labels[lid] == finding.action and store.canonicalise(raw) == finding.target
                )
            report.findings.append(Tagged((self.level, rank, idx, 0), self.index, finding, target))

    def _tag(self, since: int, order: Order, report: LevelReport) -> None:
        for finding in self.visitor.violations[since:]:
            report.findings.append(Tagged(order, self.index, finding))

    # ------------------------------------------------------------ wire

    def _pack(self, owner: int, box: dict[Key, tuple[int, ...]]) -> bytes:
        # Every part interned here since the last batch to this owner goes with the batch,
        # needed or not: the tables are small next to the states (a few thousand parts
        # against two million states in the full model), and no key's parts need looking
        # at one by one.
        store = self.store
        servers_from, bags_from = self.parts_sent[owner]
        new_servers, new_bags = store.server_table[servers_from:], store.bag_table[bags_from:]
        self.parts_sent[owner] = (servers_from + len(new_servers), bags_from + len(new_bags))
        flat: list[int] = []
        for key, tail in box.items():  # faster than an array built from a chain of them
            flat += key
            flat += tail
        packed = array("q", flat).tobytes()
        return pickle.dumps((servers_from, new_servers, bags_from, new_bags, packed), protocol=pickle.HIGHEST_PROTOCOL)

    # ------------------------------------------------------------ the end

    def path_step(self, sid: int) -> PathStep:
        """A stored state and its BFS parent, for rebuilding a trace (see `PathStep`)."""
        store = self.store
        return (self.parent_shard[sid], store.parent[sid], store.parent_label[sid], store.state(sid), store.depth[sid])

    def totals(self) -> ShardTotals:
        """Coverage, labels, deadlocks and depth counts of this shard."""
        labels = self.search.labels
        return ShardTotals(
            list(labels.names),
            list(labels.enabled),
            list(labels.within_bounds),
            dict(self.new_by_sender),
            list(labels.labels),
            list(self.search.deadlocks),
            list(self.store.states_per_depth),
        )
