"""Unbounded model checking of the finite-domain encoding: IC3 / property-directed reachability.

BMC (`z3bmc.run_bmc`) refutes every path of d steps at once, and on the default
model each step costs 2x to 4x the one before, so it stops far short of the
graph's diameter.  IC3 (Bradley 2011; the PDR form of Een, Mishchenko and Brayton
2011) asks only one-step questions.  It keeps frames F_0 = Init, F_1, ..., F_k:
F_i is a set of clauses over the state variables that holds in every state
reachable in at most i steps.  A state that violates the property and lies in F_k
is blocked by showing, one step at a time, that it has no predecessor in F_{i-1}
(recursively for the predecessors found), and each such refutation is generalised
to a clause that blocks many states.  When two consecutive frames become equal,
that frame is an inductive invariant that implies the property: the property holds
at *every* depth of the bounded model, a fortiori to its diameter.

Why a counterexample is a shortest one.  Frontier k is only opened once F_{k-1}
has no bad state, and F_{k-1} contains every state reachable within k - 1 steps, so
no violation lies at depth k - 1 or less.  A counterexample found while frontier k
is being cleared has exactly k steps (one per frame), which is then the explorer's
breadth-first depth.  `run_pdr` checks both facts on every counterexample it
returns: the path is replayed through the Python spec (each step must be one of the
spec's own successors), and its length must equal the frontier.

The engine works on the `BmcModel` encoding, unchanged: the same relation (bounds
in the guards, stutter steps excluded), the same property definitions
(`z3bmc.PROPERTIES`), one incremental QF_FD solver (bit-blasted SAT).  Cubes are
conjunctions of `variable = value` literals, one Boolean per (variable, value) pair
made equal to that comparison, so that cubes can be passed as assumptions and
shrunk with unsat cores.  Frames use one activation literal per level (a clause
learnt at level j belongs to F_1..F_j).

A proof is checked once more before it is reported: the final invariant is asked,
in a fresh solver, to contain Init, to be closed under the relation and to imply
the property (`Certificate`).
"""
from __future__ import annotations

import functools
import heapq
import itertools
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional, Sequence

import z3

from leaderfollower.spec.actions import Action
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import State

from leaderfollower.checker.z3.bmc import BmcModel, BState, Finding, Key, PropertyDef, _same_state, property_defs
from leaderfollower.checker.z3.model import EncodingError

Cube = frozenset[int]
"""A conjunction of `variable = value` literals, by literal number."""


class PdrError(RuntimeError):
    """The engine contradicted itself (a solver `unknown`, or a counterexample the spec does not replay)."""


class _OutOfTime(Exception):
    """The run's deadline passed in the middle of blocking or propagating (the frontier is not cleared)."""


@dataclass
class PdrStats:
    """What a run cost: solver queries and the clauses it learnt."""

    queries: int = 0
    query_seconds: float = 0.0
    clauses: int = 0
    obligations: int = 0
    lift_seconds: float = 0.0


@dataclass
class _Obligation:
    """A cube to block at a level; `parent` is the cube its states can step into."""

    cube: Cube
    parent: Optional["_Obligation"]
    steps: int
    """Steps from the cube to a bad state (its distance from the frontier's bad cube)."""


def _check_raw(solver: z3.Solver, assumptions: Sequence[z3.BoolRef]) -> int:
    """1 sat, -1 unsat, 0 unknown.  z3py's check() re-casts every assumption, which
    over tens of thousands of queries of a hundred assumptions each costs more than
    the SAT solving, so the C API is called."""
    arr = (z3.Ast * len(assumptions))(*[a.as_ast() for a in assumptions])
    return int(z3.Z3_solver_check_assumptions(solver.ctx.ref(), solver.solver, len(assumptions), arr))


def _core_ids(solver: z3.Solver) -> list[int]:
    """The AST ids of the last unsat core's assumptions."""
    ctx = solver.ctx.ref()
    vec = z3.Z3_solver_get_unsat_core(ctx, solver.solver)
    z3.Z3_ast_vector_inc_ref(ctx, vec)
    try:
        return [z3.Z3_get_ast_id(ctx, z3.Z3_ast_vector_get(ctx, vec, i)) for i in range(z3.Z3_ast_vector_size(ctx, vec))]
    finally:
        z3.Z3_ast_vector_dec_ref(ctx, vec)


def _equals(term: z3.ExprRef, v: int | bool) -> z3.BoolRef:
    """term = v, for a Boolean or a bit-vector term of the encoding."""
    return term == (z3.BoolVal(v) if isinstance(v, bool) else z3.BitVecVal(v, term.size()))  # type: ignore[attr-defined,return-value]


def _or(ctx: z3.Context, terms: Sequence[z3.BoolRef]) -> z3.BoolRef:
    """Or of Boolean terms, built through the C API (z3py's Or checks every argument's sort)."""
    arr = (z3.Ast * len(terms))(*[t.as_ast() for t in terms])
    return z3.BoolRef(z3.Z3_mk_or(ctx.ref(), len(terms), arr), ctx)


class _Literals:
    """The (variable, value) literals of one symbolic state, numbered the same way for every state."""

    def __init__(self, z: BmcModel, sym: BState, solver: z3.Solver, prefix: str, keys: Sequence[Key], values: Sequence[Sequence[int | bool]]) -> None:
        self.bools: list[z3.BoolRef] = []
        for key, domain in zip(keys, values):
            for v in domain:
                b = z3.Bool(f"{prefix}|{'_'.join(map(str, key))}={int(v)}")
                solver.add(b == _equals(sym[key], v))
                self.bools.append(b)
        self.negs = [z3.Not(b) for b in self.bools]
        self.by_id = {b.get_id(): n for n, b in enumerate(self.bools)}

    def of(self, cube: Iterable[int]) -> list[z3.BoolRef]:
        return [self.bools[n] for n in cube]

    def numbers(self, core_ids: Iterable[int]) -> set[int]:
        """The literal numbers among the AST ids of an unsat core."""
        return {self.by_id[i] for i in core_ids if i in self.by_id}


class _Lifter:
    """Shrinks a predecessor state to the literals that force its step into the cube it was found for.

    A separate solver holds the relation as a function of the state and the
    `choice`.  For a predecessor p found with choice c into a cube s, "p and c, and
    (not enabled, or a stutter, or the successor outside s)" is unsatisfiable; the
    literals of p in its unsat core make a cube every state of which steps into s
    with c.  (Een et al.'s lifting, with the choice as the only input.)
    """

    def __init__(self, pdr: "Pdr") -> None:
        z = pdr.z
        self.pdr = pdr
        self.solver = z3.SolverFor("QF_FD")
        self.pre = z.fresh("lift_c")
        self.lits = _Literals(z, self.pre, self.solver, "l", pdr.keys, pdr.domains)
        st = z.transition(self.pre, "_lift")
        self.choice_lits = []
        for c in range(len(st.instances)):
            b = z3.Bool(f"lift_choice={c}")
            self.solver.add(b == (st.choice == c))
            self.choice_lits.append(b)
        # Literals of the successor (as terms over pre and choice) and of "stuck", defined
        # once in the base solver: a clause over fresh terms would be bit-blasted anew
        # after every pop (6 ms a lift, against well under 1 ms so).
        self.post_negs: list[z3.BoolRef] = []
        for n in range(len(pdr.lit_var)):
            key, v = pdr.keys[pdr.lit_var[n]], pdr.lit_value[n]
            b = z3.Bool(f"lift_post{n}")
            self.solver.add(b == _equals(st.post[key], v))
            self.post_negs.append(z3.Not(b))
        self.stuck = z3.Bool("lift_stuck")
        self.solver.add(self.stuck == z3.Or(z3.Not(st.enabled), _same_state(z, self.pre, st.post)))

    def lift(self, pred: Cube, choice: int, cube: Cube) -> Cube:
        pdr = self.pdr
        t0 = time.perf_counter()
        self.solver.push()
        try:
            self.solver.add(_or(self.solver.ctx, [self.stuck, *[self.post_negs[n] for n in cube]]))
            res = _check_raw(self.solver, [*self.lits.of(pred), self.choice_lits[choice]])
            if res != -1:
                raise PdrError(f"lifting a predecessor: {'sat' if res == 1 else 'unknown'} (its step does not enter the cube)")
            pdr.stats.queries += 1
            return frozenset(self.lits.numbers(_core_ids(self.solver)))
        finally:
            self.solver.pop()
            pdr.stats.lift_seconds += time.perf_counter() - t0


class Pdr:
    """IC3 on one `BmcModel`; properties may be changed between runs, as frames over-approximate reachability whatever the property."""

    def __init__(
        self, z: BmcModel, spec: RaftSpec, *, progress: Optional[Callable[[int, int], None]] = None, symmetry: bool = True, lift: bool = True
    ) -> None:
        self.z = z
        self.use_lift = lift
        self.spec = spec
        self.progress = progress
        self.stats = PdrStats()
        self.keys = list(z.keys)
        self.domains: list[list[int | bool]] = []
        for key in self.keys:
            sort = z.dom.sort_of(key)
            self.domains.append([False, True] if sort == z3.BoolSort() else list(range(2 ** sort.size())))  # type: ignore[attr-defined]
        # literal number -> (variable index, value); and each variable's literal numbers
        self.lit_var: list[int] = []
        self.lit_value: list[int | bool] = []
        self.var_lits: list[list[int]] = []
        for vi, domain in enumerate(self.domains):
            self.var_lits.append(list(range(len(self.lit_var), len(self.lit_var) + len(domain))))
            self.lit_var += [vi] * len(domain)
            self.lit_value += domain
        self.index = {key: vi for vi, key in enumerate(self.keys)}
        index = self.index
        perms = [pi for pi in itertools.permutations(range(z.n)) if list(pi) != list(range(z.n))] if symmetry else []
        self.perms = [self._permute_literals(pi) for pi in perms]
        slots = range(z.params.max_in_flight)
        self.present_lits = [(self._lit(index[("present", k)], True), self._lit(index[("present", k)], False)) for k in slots]
        self.slot_lits = [frozenset(n for f in ("src", "dst") for n in self.var_lits[index[(f, k)]]) for k in slots]
        self.lit_slot = [-1] * len(self.lit_var)  # the slot of a src/dst literal
        for k in slots:
            for n in self.slot_lits[k]:
                self.lit_slot[n] = k
        self.solver = z3.SolverFor("QF_FD")
        self.ctx = self.solver.ctx
        self.cur = z.fresh("pdr_c")
        self.nxt = z.fresh("pdr_n")
        self.cl = _Literals(z, self.cur, self.solver, "c", self.keys, self.domains)
        # The current state packed into one bit-vector, so that a model is read with one
        # evaluation; a Boolean is one bit (its domain is [False, True]: index = bit).
        self.widths = [1 if isinstance(d[0], bool) else self.z.dom.sort_of(k).size() for k, d in zip(self.keys, self.domains)]  # type: ignore[attr-defined]
        parts = [z3.If(self.cur[k], z3.BitVecVal(1, 1), z3.BitVecVal(0, 1)) if w == 1 and isinstance(d[0], bool) else self.cur[k]
                 for k, d, w in zip(self.keys, self.domains, self.widths)]
        self.packed = z3.Concat(*parts) if len(parts) > 1 else parts[0]
        self.nl = _Literals(z, self.nxt, self.solver, "n", self.keys, self.domains)
        step = z.step(self.cur, self.nxt, "_pdr")
        self.choice = step.choice
        self.t_on = z3.Bool("pdr_T")
        self.solver.add(z3.Implies(self.t_on, z3.And(step.relation, z3.Not(_same_state(z, self.cur, self.nxt)))))
        init_values = z.values_of(spec.init())
        self.init_cube: Cube = frozenset(self._lit(vi, init_values[key]) for vi, key in enumerate(self.keys))
        self.init_on = z3.Bool("pdr_Init")
        self.solver.add(z3.Implies(self.init_on, z3.And(self.cl.of(self.init_cube))))
        self.lifter = _Lifter(self)
        self.levels: list[set[Cube]] = [set()]  # levels[0] unused: F_0 is Init
        self.level_of: dict[Cube, int] = {}
        self.watch: dict[int, set[Cube]] = {}
        self.watched_by: dict[Cube, int] = {}
        self.uses = [0] * len(self.lit_var)
        self.acts: list[z3.BoolRef] = [self.init_on]
        self.fresh = itertools.count()
        self.prop_on: Optional[z3.BoolRef] = None
        self.bad_on: Optional[z3.BoolRef] = None
        self.frontier = 0
        self.deadline: Optional[float] = None

    # ------------------------------------------------------------ plumbing

    def _permute_literals(self, pi: Sequence[int]) -> list[int]:
        """Literal n renamed by the server permutation pi (keys and server-valued fields both)."""
        out = []
        for n in range(len(self.lit_var)):
            key, v = self.keys[self.lit_var[n]], self.lit_value[n]
            kind = key[0]
            if kind in ("vr", "vg", "next", "match"):
                i, j = key[1], key[2]
                assert isinstance(i, int) and isinstance(j, int)  # (kind, server, server)
                new_key: Key = (kind, pi[i], pi[j])
            elif kind in ("term", "role", "voted_for", "len", "commit", "log_term", "log_value"):
                i = key[1]
                assert isinstance(i, int)  # (kind, server, ...)
                new_key = (kind, pi[i], *key[2:])
            else:
                new_key = key
            if kind == "voted_for" and 0 < int(v) <= len(pi):
                v = pi[int(v) - 1] + 1
            elif kind in ("src", "dst") and int(v) < len(pi):
                v = pi[int(v)]
            out.append(self._lit(self.index[new_key], v))
        return out

    def _orbit(self, cube: Cube) -> set[Cube]:
        """Cubes whose clauses together exclude exactly the images of the cube under every server permutation.

        A permutation renames the servers in the keys and in the server-valued fields,
        but an absent message slot keeps its fields (0) as they are: the renaming is
        then a bijection of states that the relation, Init and the properties
        commute with.  A cube that constrains a slot's src or dst without saying
        whether the slot is present has the union of two cubes as its image: it is
        split on the slot's `present` first.
        """
        out = {cube}
        split = [k for k, (yes, no) in enumerate(self.present_lits) if yes not in cube and no not in cube and cube & self.slot_lits[k]]
        parts = [cube]
        for k in split:
            yes, no = self.present_lits[k]
            parts = [c | {flag} for c in parts for flag in (yes, no)]
        for part in parts:
            absent = {k for k, (_, no) in enumerate(self.present_lits) if no in part}
            for pi in self.perms:
                out.add(frozenset(n if self.lit_slot[n] in absent else pi[n] for n in part))
        return out

    def _lit(self, vi: int, value: int | bool) -> int:
        domain = self.domains[vi]
        return self.var_lits[vi][domain.index(value if isinstance(value, bool) else int(value))]

    def _check(self, assumptions: Sequence[z3.BoolRef]) -> bool:
        t0 = time.perf_counter()
        if self.deadline is not None and t0 > self.deadline:
            raise _OutOfTime
        res = _check_raw(self.solver, assumptions)
        self.stats.queries += 1
        self.stats.query_seconds += time.perf_counter() - t0
        if res == 0:
            raise PdrError(f"Z3 answered unknown ({self.solver.reason_unknown()})")
        return res == 1

    def _core_ids(self) -> list[int]:
        return _core_ids(self.solver)

    def _frame(self, i: int) -> list[z3.BoolRef]:
        """Assumptions selecting F_i (F_0 is Init)."""
        if i == 0:
            return [self.init_on]
        return self.acts[i:]

    def _state_cube(self, m: z3.ModelRef) -> Cube:
        """The current state of a model, as the cube of its values (read with one evaluation)."""
        packed = m.eval(self.packed, model_completion=True).as_long()  # type: ignore[attr-defined]
        out = []
        for vi in reversed(range(len(self.keys))):
            w = self.widths[vi]
            out.append(self.var_lits[vi][packed & ((1 << w) - 1)])
            packed >>= w
        return frozenset(out)

    def _not_cube(self, cube: Cube) -> z3.BoolRef:
        """The clause "not cube" over the current state (built through the C API, as `_check` is)."""
        return _or(self.ctx, [self.cl.negs[n] for n in cube])

    def meets_init(self, cube: Cube) -> bool:
        """The cube contains the initial state (Init is one state)."""
        return cube <= self.init_cube

    # ------------------------------------------------------------ queries

    def _bad_cube(self, k: int) -> Optional[Cube]:
        """A cube of bad states in F_k (lifted to the literals the violation needs)."""
        assert self.bad_on is not None and self.prop_on is not None
        if not self._check([self.bad_on, *self._frame(k)]):
            return None
        state = self._state_cube(self.solver.model())
        # Keep only the literals under which the property still fails.
        if self._check([self.prop_on, *self.cl.of(state)]):
            raise PdrError("a bad state satisfies the property")
        return frozenset(self.cl.numbers(self._core_ids()))

    def _relative(self, cube: Cube, i: int) -> tuple[bool, Optional[Cube], Cube]:
        """Is "not cube" inductive relative to F_{i-1}?  (unsat, the core's sub-cube) or (sat, a predecessor state)."""
        # A scope, not an activation literal: every retired literal would stay in the
        # solver and make each model slower to extract (5 ms after 10,000 of them).
        self.solver.push()
        try:
            self.solver.add(self._not_cube(cube))
            sat = self._check([self.t_on, *self._frame(i - 1), *self.nl.of(cube)])
            if sat:
                m = self.solver.model()
                pred = self._state_cube(m)
                choice = m.eval(self.choice, model_completion=True).as_long()  # type: ignore[attr-defined]
                return False, (self.lifter.lift(pred, choice, cube) if self.use_lift else pred), cube
            return True, None, frozenset(self.nl.numbers(self._core_ids()))
        finally:
            self.solver.pop()

    def _not_init(self, core: Cube, cube: Cube) -> Cube:
        """core, with a literal of cube added back if needed so that it excludes the initial state."""
        if not self.meets_init(core):
            return core
        for n in sorted(cube):
            if n not in self.init_cube:
                return core | {n}
        raise PdrError("a cube to block contains the initial state")

    def _generalise(self, cube: Cube, i: int) -> Cube:
        """A sub-cube whose negation is still inductive relative to F_{i-1} (drop literals one at a time)."""
        g = cube
        for n in sorted(cube):
            if n not in g:
                continue
            cand = g - {n}
            if not cand or self.meets_init(cand):
                continue
            ok, _, core = self._relative(cand, i)
            if ok:
                g = self._not_init(core & cand, cand)
        return g

    def _add(self, cube: Cube, level: int) -> None:
        """Learn "not cube" and its server permutations at level (so in F_1..F_level).

        The permutations hold wherever the clause does: Init, the relation and the
        properties are symmetric in the servers (`tests/test_pdr.py` checks the
        relation's symmetry with Z3).  A copy some clause of the level already
        subsumes is not added.
        """
        for c in self._orbit(cube):
            if not self._blocked(c, level):
                self._store(c, level)
                self.solver.add(z3.Or(z3.Not(self.acts[level]), self._not_cube(c)))
                self.stats.clauses += 1

    def _store(self, cube: Cube, level: int) -> None:
        """Record a clause at a level (moving it if it is known), watched by its least used literal.

        `_blocked` only visits the clauses watched by a literal of the cube it is asked
        about; scanning every clause cost more than the SAT queries past 20,000 clauses.
        Level 0 is "in no frame" (a clause being moved).
        """
        old = self.level_of.get(cube)
        if old is None:
            watch = min(cube, key=lambda n: self.uses[n])
            self.watched_by[cube] = watch
            self.watch.setdefault(watch, set()).add(cube)
            for n in cube:
                self.uses[n] += 1
        elif old >= 1:
            self.levels[old].discard(cube)
        self.level_of[cube] = level
        if level >= 1:
            self.levels[level].add(cube)

    def _forget(self, cube: Cube) -> None:
        """Drop a clause from the bookkeeping (the solver keeps it: it is implied where it stood)."""
        old = self.level_of.pop(cube)
        if old >= 1:
            self.levels[old].discard(cube)
        self.watch[self.watched_by.pop(cube)].discard(cube)
        for n in cube:
            self.uses[n] -= 1

    def _blocked(self, cube: Cube, i: int) -> bool:
        """Some clause of F_i already excludes the cube (is a sub-cube of it)."""
        level_of = self.level_of
        for n in cube:
            for c in self.watch.get(n, ()):
                if level_of[c] >= i and c <= cube:
                    return True
        return False

    def _block(self, bad: Cube, k: int, strict: bool) -> Optional[list[Cube]]:
        """Block a bad cube at frontier k; a chain of cubes from Init to it if it cannot be.

        A blocked obligation is tried again one level further out (so that it is
        blocked there too before it is met again).  `strict` allows that only while
        level + steps to the bad state stays within k, so that a chain found has at
        most k steps; without it a chain may be longer (`run` then goes strict).
        """
        order = itertools.count()
        queue: list[tuple[int, int, _Obligation]] = [(k, next(order), _Obligation(bad, None, 0))]
        while queue:
            i, _, ob = heapq.heappop(queue)
            self.stats.obligations += 1
            if self._blocked(ob.cube, i):
                continue
            blocked, pred, core = self._relative(ob.cube, i)
            if not blocked:
                assert pred is not None
                if i == 1:  # pred is the initial state: a path of i + (chain length) steps
                    chain = [pred]
                    node: Optional[_Obligation] = ob
                    while node is not None:
                        chain.append(node.cube)
                        node = node.parent
                    return chain
                heapq.heappush(queue, (i - 1, next(order), _Obligation(pred, ob, ob.steps + 1)))
                heapq.heappush(queue, (i, next(order), ob))
                continue
            g = self._generalise(self._not_init(core, ob.cube), i)
            j = i
            while j < k and self._relative(g, j + 1)[0]:
                j += 1
            self._add(g, j)
            if j < k and (not strict or j + 1 + ob.steps <= k):
                heapq.heappush(queue, (j + 1, next(order), ob))
        return None

    def _propagate(self, k: int) -> Optional[int]:
        """Push clauses forward through F_1..F_{k-1}; the level that became equal to the next one, if any."""
        for i in range(1, k):
            for cube in sorted(self.levels[i], key=len):
                if cube not in self.levels[i]:
                    continue
                self._store(cube, 0)  # out of the frame while asked, so that it does not subsume itself
                if self._blocked(cube, i + 1):
                    self._forget(cube)  # a clause further out already subsumes it
                elif not self._check([self.t_on, *self._frame(i), *self.nl.of(cube)]):
                    images = self._orbit(cube)  # they move too, by symmetry
                    for image in images:
                        if self.level_of.get(image) == i:
                            self._store(image, 0)
                    self._add(cube, i + 1)
                    for image in images:
                        if self.level_of.get(image) == 0:
                            self._forget(image)  # subsumed at the new level
                else:
                    self._store(cube, i)
            if not self.levels[i]:
                return i
        return None

    # ------------------------------------------------------------ runs

    def invariant(self, level: int) -> list[Cube]:
        """The clauses (as the cubes they exclude) of F_level."""
        return [c for j in range(level, len(self.levels)) for c in self.levels[j]]

    def _enters(self, state: State, cube: Cube) -> bool:
        """Some encoding of the spec state (its messages in any slots) lies in the cube."""
        for slots in itertools.permutations(range(self.z.params.max_in_flight), len(state.messages)):
            try:
                values = self.z.values_of(state, slots)
            except EncodingError:
                return False  # out of bounds: the explorer does not store it either
            if all(self.lit_value[n] == values[self.keys[self.lit_var[n]]] for n in cube):
                return True
        return False

    def _path(self, chain: list[Cube]) -> tuple[list[State], list[Action]]:
        """Replay a chain of cubes through the Python spec: from Init, each step a spec successor inside the next cube."""
        state = self.spec.init()
        states, actions = [state], []
        for cube in chain[1:]:
            for action, nxt in self.spec.successors(state):
                if nxt == state:
                    continue
                if self._enters(nxt, cube):
                    state = nxt
                    states.append(nxt)
                    actions.append(action)
                    break
            else:
                raise PdrError(f"counterexample step {len(actions) + 1}: no spec successor of the state enters the next cube")
        return states, actions

    def run(
        self,
        name: str,
        prop_of: Callable[[BState], z3.BoolRef],
        *,
        max_depth: Optional[int] = None,
        deadline: Optional[float] = None,
        start: Optional[float] = None,
    ) -> Finding:
        """The shortest violation of a property (`prop_of` builds it on a state), or a proof it holds at every depth.

        Stops with no violation within the frontier when `max_depth` or the `deadline`
        (a `time.perf_counter` value) is reached: the deadline is looked at before every
        solver query, so a run stops within one query of it.  A run cut short leaves
        the frames usable as over-approximations but their bookkeeping unfinished: it
        is the last run of this `Pdr`.
        """
        start = time.perf_counter() if start is None else start
        prop = prop_of(self.cur)

        def holds(st: State) -> bool:
            return holds_in(self.z, prop_of, st)

        self.prop_on = z3.Bool(f"pdr_P{next(self.fresh)}")
        self.bad_on = z3.Bool(f"pdr_Bad{next(self.fresh)}")
        self.solver.add(z3.Implies(self.prop_on, prop), z3.Implies(self.bad_on, z3.Not(prop)))
        if self._check([self.init_on, self.bad_on]):
            s0 = self.spec.init()
            return Finding(name, True, 0, time.perf_counter() - start, states=[s0])
        self.deadline = deadline
        try:
            return self._frontiers(name, prop, holds, max_depth, deadline, start)
        except _OutOfTime:
            # Cut off while clearing the frontier: the one before it is the depth cleared.
            return Finding(name, False, max(0, self.frontier - 1), time.perf_counter() - start)
        finally:
            self.deadline = None

    def _frontiers(
        self,
        name: str,
        prop: z3.BoolRef,
        holds: Callable[[State], bool],
        max_depth: Optional[int],
        deadline: Optional[float],
        start: float,
    ) -> Finding:
        """`run`'s loop over frontiers; `_check` raises `_OutOfTime` past the deadline."""
        k = max(1, self.frontier)
        while True:
            while len(self.levels) <= k:
                self.levels.append(set())
                self.acts.append(z3.Bool(f"pdr_F{len(self.acts)}"))
            self.frontier = k
            if self.progress:
                self.progress(k, self.stats.clauses)
            strict = False
            while (bad := self._bad_cube(k)) is not None:
                chain = self._block(bad, k, strict)
                if chain is not None and len(chain) - 1 > k:
                    # A violation exists, but this path may not be a shortest one: block
                    # again at this frontier with obligations kept within it.
                    strict = True
                    continue
                if chain is not None:
                    states, actions = self._path(chain)
                    if len(actions) != k or holds(states[-1]):
                        raise PdrError(f"{name}: counterexample of {len(actions)} steps at frontier {k}, last state ok={holds(states[-1])}")
                    return Finding(name, True, k, time.perf_counter() - start, states=states, actions=actions)
            # F_k has no bad state: no violation within k steps.
            if max_depth is not None and k >= max_depth:
                return Finding(name, False, k, time.perf_counter() - start)
            if deadline is not None and time.perf_counter() > deadline:
                return Finding(name, False, k, time.perf_counter() - start)
            k += 1
            self.frontier = k
            self.levels.append(set())
            self.acts.append(z3.Bool(f"pdr_F{len(self.acts)}"))
            fixed = self._propagate(k)
            if fixed is not None:
                inv = self.invariant(fixed + 1)
                Certificate(self.z, prop).check(inv, self)
                return Finding(name, False, k, time.perf_counter() - start, proved=True, invariant=inv)


class Certificate:
    """Checks an invariant found by `Pdr` from scratch: Init in it, closed under the relation, inside the property."""

    def __init__(self, z: BmcModel, prop: z3.BoolRef) -> None:
        self.z, self.prop = z, prop

    def check(self, inv: list[Cube], pdr: Pdr) -> None:
        z = self.z
        cur, nxt = pdr.cur, pdr.nxt

        def clauses(sym: BState) -> z3.BoolRef:
            def lit(n: int) -> z3.BoolRef:
                return _equals(sym[pdr.keys[pdr.lit_var[n]]], pdr.lit_value[n])

            return z3.And([z3.Or([z3.Not(lit(n)) for n in cube]) for cube in inv])

        step = z.step(cur, nxt, "_cert")
        for what, query in (
            ("Init is not inside the invariant", z3.And(z.init(cur), z3.Not(clauses(cur)))),
            ("the invariant is not closed under the relation", z3.And(clauses(cur), step.relation, z3.Not(clauses(nxt)))),
            ("the invariant does not imply the property", z3.And(clauses(cur), z3.Not(self.prop))),
        ):
            s = z3.SolverFor("QF_FD")
            s.add(query)
            res = s.check()
            if res != z3.unsat:
                raise PdrError(f"certificate check failed ({res}): {what}")


def holds_in(z: BmcModel, prop_of: Callable[[BState], z3.BoolRef], state: State) -> bool:
    """A property's value on a spec state (its encoding evaluated on the state's values)."""
    return bool(z3.is_true(z3.simplify(prop_of(z.concrete(state)))))


def run_pdr(
    spec: RaftSpec,
    properties: Sequence[str],
    *,
    max_depth: Optional[int] = None,
    seconds: Optional[float] = None,
    extra: Optional[dict[str, PropertyDef]] = None,
    progress: Optional[Callable[[int, int], None]] = None,
    symmetry: bool = True,
    lift: bool = True,
) -> tuple[list[Finding], PdrStats]:
    """Each property's shortest violation under the spec's bounds, or a proof that it holds at every depth.

    The pending properties are checked as one conjunction.  A counterexample of k
    steps is the shortest for every property false in its last state (none failed
    earlier); the others stay pending, and the run goes on from frontier k with the
    frames it has (they hold whatever the property).  `seconds` bounds the whole
    run: the properties still pending are then reported with no violation within the
    frontier reached, as BMC reports a depth.
    """
    defs = property_defs(properties, extra)
    z = BmcModel.for_spec(spec)
    start = time.perf_counter()
    deadline = None if seconds is None else start + seconds
    pdr = Pdr(z, spec, progress=progress, symmetry=symmetry, lift=lift)
    pending = list(properties)
    found: dict[str, Finding] = {}
    while pending:
        names = tuple(pending)

        def conj(sym: BState, names: tuple[str, ...] = names) -> z3.BoolRef:
            return z3.And([defs[n](z, sym) for n in names])

        r = pdr.run("+".join(names), conj, max_depth=max_depth, deadline=deadline, start=start)
        if not r.violated:
            for n in names:
                found[n] = Finding(n, False, r.depth, r.seconds, proved=r.proved, invariant=r.invariant)
            break
        last = r.states[-1]
        failing = [n for n in names if not holds_in(z, functools.partial(defs[n], z), last)]
        if not failing:
            raise PdrError(f"counterexample of {r.depth} steps violates none of {names}")
        for n in failing:
            found[n] = Finding(n, True, r.depth, r.seconds, states=r.states, actions=r.actions)
            pending.remove(n)
    return [found[n] for n in properties], pdr.stats
