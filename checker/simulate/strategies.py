"""Where walks start and which moves they prefer: uniform, swarm and guided.

How this works: a strategy answers two questions for every walk: where it starts
(the initial state, or a state the search kept, with the actions that lead there)
and how likely each kind of action is along it (a weight per action name, or
uniform).  The guided strategy also looks at every state a walk reaches.
- *uniform*: every walk starts in the initial state and takes any enabled move with
  equal probability (what TLC's `-simulate` does).
- *swarm*: as uniform, but each walk draws its own weight for each kind of action
  and leaves some kinds out altogether (Holzmann's swarm verification: one walk with
  no restarts, another with no drops, another that times out all the time).
- *guided*: an archive of states, one per abstract signature (signature.py), in the
  manner of Go-Explore (Ecoffet et al.) and coverage-guided fuzzers.  Each walk starts
  from an archived state chosen with a preference for signatures rarely chosen,
  rarely seen and recently fruitful, and walks a short segment; any state with a new
  signature joins the archive (and the walk goes on from it), and a state whose
  signature is known but which got there using lower terms replaces the archived one
  (terms are the budget a deep bug needs most).  Its walks prefer the moves that make
  protocol progress (`PROGRESS_WEIGHTS`): a message is handled twenty times as often
  as the cluster has a timeout, and faults (restart, drop, duplicate) are rarer
  still, so an election or a replication round started in a segment usually
  finishes in it.  Half the walks vary these weights at random (each kind's by a
  factor between a tenth and ten, as swarm walks do), because bugs differ in what
  they need: figure 8 needs timeouts to be rare, a stale vote needs them often.  Timeouts and restarts are weighed per cluster, not per server
  (each server's share is the weight divided by the number of servers): a five-server
  cluster does not time out more often than a three-server one, or its elections
  would rarely finish.

Signatures say nothing about votes, replication indexes or messages, so the archive
cannot tell two states apart that differ only there: the guided search is incomplete
by design, which is fine for a search that only reports violations.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import ClassVar, Optional

from leaderfollower.spec.actions import Action
from leaderfollower.spec.state import State

from .signature import Signature, cost, signature
from .steps import Key, WalkSteps

PROGRESS_WEIGHTS: dict[str, float] = {
    "Timeout": 0.5,
    "Restart": 0.15,
    "RequestVote": 3.0,
    "BecomeLeader": 10.0,
    "ClientRequest": 3.0,
    "AdvanceCommitIndex": 3.0,
    "AppendEntries": 3.0,
    "DuplicateMessage": 0.3,
    "DropMessage": 0.3,
}
"""The guided walks' weights; every other action (the message handlers, and a user
spec's own actions) weighs `HANDLER_WEIGHT`.  Those of `PER_CLUSTER` are shared among
the servers."""

PER_CLUSTER: frozenset[str] = frozenset({"Timeout", "Restart"})
"""Actions of one server that the environment triggers: their weight is the cluster's, split evenly."""

HANDLER_WEIGHT = 10.0

JITTER = 1.0
JITTERED = 0.5
"""The share of guided walks that multiply each kind's weight by 10 ** uniform(-JITTER, JITTER)."""

FAULTS: tuple[str, ...] = ("Timeout", "Restart", "DuplicateMessage", "DropMessage", "ClientRequest")
"""The kinds of actions a swarm walk may leave out (the environment's choices)."""

Weights = Optional[list[float]]
"""A weight per action name index, or None for uniform."""


@dataclass
class Start:
    """Where a walk begins: a state, the archive entry it is (-1: the initial state), its depth, how to walk, how far."""

    key: Key
    entry: int
    depth: int
    weights: Weights
    limit: int


class Strategy:
    """The uniform strategy, and the interface of the others."""

    name: ClassVar[str] = "uniform"
    description: ClassVar[str] = "every walk from the initial state, every enabled move equally likely (TLC's simulation)"
    observes: ClassVar[bool] = False
    """Whether `observe` must see every state a walk reaches."""
    extend: ClassVar[int] = 0
    """Steps a walk may still take after `observe` kept a new state (0: the walk's limit stands)."""

    def __init__(self, steps: WalkSteps, rng: random.Random, depth: int) -> None:
        self.steps = steps
        self.rng = rng
        self.depth = depth
        self.init_state = steps.spec.init()

    def start(self) -> Start:
        """The next walk."""
        return Start(self.steps.key(self.init_state), -1, 0, self.weights(), self.depth)

    def weights(self) -> Weights:
        """The next walk's weights."""
        return None

    def observe(self, key: Key, entry: int, path: list[int], depth: int) -> int:
        """See a state a walk reached; the archive entry the walk now continues from, or -1 if unchanged."""
        return -1

    def prefix(self, entry: int) -> list[Action]:
        """The actions from the initial state to an archive entry (none for -1)."""
        return []

    def forget_keys(self) -> None:
        """The steps' tables were cleared: drop anything keyed by their ids."""

    def figures(self) -> dict[str, int]:
        """Strategy-specific counts for the result document."""
        return {}


class Swarm(Strategy):
    """Uniform walks, each with its own random weights and some environment actions left out."""

    name = "swarm"
    description = "each walk weighs the kinds of actions at random and leaves some faults out (swarm verification)"

    def weights(self) -> Weights:
        rng = self.rng
        out = []
        for name in self.steps.names:
            if name in FAULTS and rng.random() < 0.5:
                out.append(0.0)
            else:
                out.append(10 ** rng.uniform(-1.0, 1.0))
        return out


class Guided(Strategy):
    """Go-Explore over abstract signatures, with walks that prefer protocol progress."""

    name = "guided"
    description = "an archive of states with new abstract signatures; walks extend the rarely chosen ones, preferring progress"
    observes = True
    segment: ClassVar[int] = 30
    """How many steps a walk takes from its archived start."""
    tournament: ClassVar[int] = 3
    """How many archived signatures are drawn at random for each walk; the best scored starts it."""

    def __init__(self, steps: WalkSteps, rng: random.Random, depth: int) -> None:
        super().__init__(steps, rng, depth)
        self.n = steps.n
        # Archive entries: the state, its parent entry, the actions from the parent, its depth.
        self.states: list[State] = []
        self.parents: list[int] = []
        self.actions: list[tuple[Action, ...]] = []
        self.depths: list[int] = []
        # Cells (signatures): the entry standing for each, its cost, and Go-Explore's counters.
        self.cells: dict[Signature, int] = {}
        self.cell_entry: list[int] = []
        self.cell_cost: list[int] = []
        self.chosen: list[int] = []
        self.seen: list[int] = []
        self.since_new: list[int] = []
        self.replaced = 0
        self._sig_cache: dict[Key, tuple[Signature, int]] = {}
        self._pids: list[int] = []
        self._projections: dict[tuple[object, ...], int] = {}
        self._walk_cell = -1
        self._add(self.init_state, -1, (), 0, self._signature(steps.key(self.init_state)))

    def _signature(self, key: Key) -> tuple[Signature, int]:
        # Cached per tuple of the servers' protocol fields (many server states share them).
        pids = self._pids
        table = self.steps.server_table
        if len(pids) < len(table):
            projections = self._projections
            for srv in table[len(pids) :]:
                pids.append(projections.setdefault((srv.current_term, srv.role, srv.log, srv.commit_index), len(projections)))
        pkey = tuple([pids[x] for x in key[: self.n]])
        got = self._sig_cache.get(pkey)
        if got is None:
            servers = tuple([table[x] for x in key[: self.n]])
            got = (signature(servers), cost(servers))
            self._sig_cache[pkey] = got
        return got

    def _add(self, state: State, parent: int, actions: tuple[Action, ...], depth: int, sig: tuple[Signature, int]) -> int:
        entry = len(self.states)
        self.states.append(state)
        self.parents.append(parent)
        self.actions.append(actions)
        self.depths.append(depth)
        cell = self.cells.get(sig[0])
        if cell is None:
            self.cells[sig[0]] = len(self.cell_entry)
            self.cell_entry.append(entry)
            self.cell_cost.append(sig[1])
            self.chosen.append(0)
            self.seen.append(1)
            self.since_new.append(0)
        else:
            self.cell_entry[cell] = entry
            self.cell_cost[cell] = sig[1]
        return entry

    def _score(self, cell: int) -> float:
        # Go-Explore's count-based score: prefer cells rarely chosen, rarely seen, and
        # chosen few times since they last led somewhere new.
        return 1.0 / math.sqrt(self.chosen[cell] + 1) + 1.0 / math.sqrt(self.seen[cell] + 1) + 1.0 / math.sqrt(self.since_new[cell] + 1)

    def start(self) -> Start:
        rng = self.rng
        count = len(self.cell_entry)
        cell = max((rng.randrange(count) for _ in range(self.tournament)), key=self._score)
        self.chosen[cell] += 1
        self.since_new[cell] += 1
        self._walk_cell = cell
        entry = self.cell_entry[cell]
        depth = self.depths[entry]
        return Start(self.steps.key(self.states[entry]), entry, depth, self.weights(), max(0, min(self.segment, self.depth - depth)))

    def weights(self) -> Weights:
        # Half the walks scale each kind's weight by its own factor between a tenth and
        # ten (swarm-like): one bug needs timeouts to be rare, another needs stale
        # messages to linger while terms move on.  The other half keep the weights as
        # they are, which the deepest bugs need most (measured: docs/performance.md).
        n = self.steps.n
        weights = [PROGRESS_WEIGHTS.get(name, HANDLER_WEIGHT) / (n if name in PER_CLUSTER else 1) for name in self.steps.names]
        if self.rng.random() < JITTERED:
            uniform = self.rng.uniform
            weights = [w * 10 ** uniform(-JITTER, JITTER) for w in weights]
        return weights

    def observe(self, key: Key, entry: int, path: list[int], depth: int) -> int:
        sig = self._signature(key)
        cell = self.cells.get(sig[0])
        if cell is not None:
            self.seen[cell] += 1
            if sig[1] >= self.cell_cost[cell]:
                return -1
            self.replaced += 1
        elif self._walk_cell >= 0:
            self.since_new[self._walk_cell] = 0
        labels = self.steps.labels
        return self._add(self.steps.state(key), entry, tuple([labels[lid] for lid in path]), depth, sig)

    def prefix(self, entry: int) -> list[Action]:
        chunks = []
        while entry >= 0:
            chunks.append(self.actions[entry])
            entry = self.parents[entry]
        return [a for chunk in reversed(chunks) for a in chunk]

    def forget_keys(self) -> None:
        self._sig_cache.clear()
        self._pids.clear()
        self._projections.clear()

    def figures(self) -> dict[str, int]:
        return {"signatures": len(self.cell_entry), "archived_states": len(self.states), "replaced": self.replaced}


STRATEGIES: dict[str, type[Strategy]] = {cls.name: cls for cls in (Strategy, Swarm, Guided)}
"""Every strategy by name (`simulate --strategy NAME`)."""

DEFAULT_STRATEGY = "guided"
