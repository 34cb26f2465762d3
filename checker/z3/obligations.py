"""Building the queries of an inductive proof: which obligations there are, and their Z3 terms.

How this works: a proof of property P with lemmas L1..Lk (`lemmas.PROOFS`) has one
obligation per conjunct C of the invariant and per action A (`Inv and A => C'`),
plus `Init => C`; a derived property (`lemmas.DERIVED`) has one more, `Implied`:
the lemmas imply it in every state.  `plan` lists them as `Task`s, small picklable
values that a worker process can receive.  `ProofContext` turns a task into terms:
a symbolic pre-state, each conjunct's definition on it, the hypotheses (existential
conjuncts skolemized, so that the same conjunct after the step can first be tried
with the pre-state's witness), and per action its canonical instances applied to
the pre-state.  The context is built once per process and proof (`context_for`).

`term_hash` names an obligation by its terms (the hypotheses it assumes, each
instance's guard, and the goal), so a results file written by an interrupted run
is reused only for the very same query: a changed encoding or lemma changes it.
The solving lives in `solving.py`.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol, Sequence, TypeVar

import z3

from leaderfollower.checker.z3.lemmas import ASSUMES, DERIVED, PROOFS, PROPERTY_ENCODINGS, lemma_by_name
from leaderfollower.checker.z3.model import RECORDS, Effect, Instance, Switches, Sym, Z3Model
from leaderfollower.checker.z3.results import IMPLIED, Obligation
from leaderfollower.spec.params import Params

Witness = tuple[list[z3.ExprRef], list[z3.ExprRef]]
"""The bound constants of the outer ForAll (if any) and the witness terms (functions of them) of the Exists."""

StepTerms = tuple[Instance, Optional[z3.ExprRef], Effect, Sym]
"""One canonical instance of an action: (instance, its message record constant, its effect, the post-state)."""


def invariant_names(prop: str, lemmas: Optional[Sequence[str]] = None) -> tuple[str, ...]:
    """The property and its lemmas (default: PROOFS[prop]), property first."""
    chosen = tuple(PROOFS.get(prop, ())) if lemmas is None else tuple(lemmas)
    return (prop,) + tuple(name for name in chosen if name != prop)


def definition(name: str) -> Callable[[Z3Model, Sym], z3.BoolRef]:
    """The Z3 definition of a property or a lemma, by name."""
    if name in PROPERTY_ENCODINGS:
        return PROPERTY_ENCODINGS[name]
    return lemma_by_name(name).z3


def assumed_conjuncts(name: str, action: str, names: Sequence[str]) -> tuple[str, ...]:
    """The conjuncts an obligation assumes: its `ASSUMES` hint ("L/Action", else "L"; within names), else all.

    Assuming fewer conjuncts proves a stronger statement, so a hint can only make a
    proof fail, never make a wrong one pass; it keeps Z3's quantifier instantiation
    focused (docs/performance-z3.md).
    """
    hint = ASSUMES.get(f"{name}/{action}", ASSUMES.get(name))
    if hint is None:
        return tuple(names)
    return tuple(n for n in names if n == name or n in hint)


def canonical_instances(model: Z3Model, action: str) -> list[Instance]:
    """An action's instances up to a permutation of servers: servers 0 and 1 stand for any two."""
    out = []
    for inst in model.instances:
        if inst.name != action:
            continue
        servers = (inst.src, inst.dst) if inst.is_message else (inst.args[:1] if inst.name == "ClientRequest" else inst.args)
        if servers in ((0,), (0, 0), (0, 1)):
            out.append(inst)
    return out


def is_derived(prop: str, lemmas: Optional[Sequence[str]]) -> bool:
    """Whether the proof is by implication: a derived property with its shipped lemmas."""
    return prop in DERIVED and lemmas is None


# ------------------------------------------------------------------ tasks


@dataclass(frozen=True)
class ProofTerms:
    """What a worker needs to rebuild a proof's terms: the encoding and the invariant's conjuncts
    (`solving.ProofSetup` adds how to solve them)."""

    params: Params
    switches: Switches
    prop: str
    names: tuple[str, ...]
    """The conjuncts of the invariant, the property first (for a derived property: also first, not assumed)."""
    derived: bool = False


class Setup(Protocol):
    """What a task's proof knows how to do in a worker: solve one of its tasks, and name it by its terms."""

    def solve(self, task: "Task") -> Obligation:
        """Solve one obligation of this proof (in this process)."""

    def term_hash(self, task: "Task") -> str:
        """The obligation's identity for the resume file: a digest of its terms."""


@dataclass(frozen=True)
class Task:
    """One obligation to solve: a conjunct and an action (None: Init; `IMPLIED`: the property from the lemmas)."""

    setup: Setup
    lemma: str
    action: Optional[str]
    timeout_ms: int
    support: bool = False

    def label(self) -> str:
        """`Lemma / Action` as printed."""
        return f"{self.lemma} / {self.action or 'Init'}"


# ---------------------------------------------------------------- context


class ServerIndex:
    """Which servers a Z3 term reads: the servers named in the keys of the pre-state constants it contains."""

    def __init__(self, pre: Sym) -> None:
        self._of_const: dict[int, frozenset[int]] = {}
        for key, const in pre.vars.items():
            self._of_const[const.get_id()] = frozenset(k for k in key[1:] if isinstance(k, int))
        # Keyed by term id, with the term kept alive: a freed term's id is reused.
        self._memo: dict[int, tuple[z3.ExprRef, frozenset[int]]] = {}

    def __call__(self, e: z3.ExprRef) -> frozenset[int]:
        hit = self._memo.get(e.get_id())
        if hit is not None:
            return hit[1]
        out: set[int] = set()
        todo, seen = [e], set()
        while todo:
            t = todo.pop()
            tid = t.get_id()
            if tid in seen:
                continue
            seen.add(tid)
            if tid in self._of_const:
                out |= self._of_const[tid]
            elif z3.is_quantifier(t):
                todo.append(t.body())
            else:
                todo.extend(t.children())
        found = frozenset(out)
        self._memo[e.get_id()] = (e, found)
        return found


class ProofContext:
    """The terms of one proof in one process: pre-state, definitions, hypotheses, instances per action."""

    def __init__(self, setup: ProofTerms) -> None:
        self.setup = setup
        self.model = Z3Model(setup.params, setup.switches)
        self.names = setup.names
        self.pre = self.model.fresh("pre")
        self.plain = {name: definition(name)(self.model, self.pre) for name in self.names}
        self.hyps: dict[str, z3.BoolRef] = {}
        self.skolems: dict[str, dict[int, Witness]] = {}
        for name in self.names:
            # Existential conjuncts are assumed for fresh witness constants, which the
            # same conjunct after the step is first tried with (`solving.Query`).
            self.hyps[name], self.skolems[name] = skolemize(self.plain[name], name)
        self.servers_of = ServerIndex(self.pre)
        self._steps: dict[str, list[StepTerms]] = {}
        self.solvers: dict[tuple[str, int, tuple[str, ...]], z3.Solver] = {}
        """Incremental solvers of the current action, by (action, instance, assumed conjuncts)."""
        self._hashes: dict[tuple[str, ...], str] = {}

    @property
    def checked(self) -> tuple[str, ...]:
        """The conjuncts with obligations of their own (a derived property only follows from the others)."""
        return self.names[1:] if self.setup.derived else self.names

    def steps(self, action: str) -> list[StepTerms]:
        """The action's canonical instances applied to the pre-state (the last action's are kept)."""
        if action not in self._steps:
            self._steps.clear()
            self.solvers.clear()  # an action's solvers are reused by its conjuncts only
            out = []
            for k, inst in enumerate(canonical_instances(self.model, action)):
                rec = z3.Const(f"m_{k}", RECORDS[inst.mtype]) if inst.mtype is not None else None
                eff, post = self.model.post_state(self.pre, inst, rec, tag=f"_{k}")
                out.append((inst, rec, eff, post))
            self._steps[action] = out
        return self._steps[action]

    def assumed(self, lemma: str, action: str) -> tuple[str, ...]:
        """The conjuncts the obligation of `lemma` under `action` assumes."""
        return assumed_conjuncts(lemma, action, self.checked)

    def hyps_hash(self, assumed: Sequence[str]) -> str:
        """A digest of the assumed hypotheses' terms (cached: they are large at 5 servers)."""
        key = tuple(assumed)
        if key not in self._hashes:
            h = hashlib.sha256()
            for n in key:
                h.update(n.encode() + b"\0" + self.hyps[n].sexpr().encode() + b"\0")
            self._hashes[key] = h.hexdigest()
        return self._hashes[key]


K = TypeVar("K")
V = TypeVar("V")


def one_at_a_time(cache: dict[K, V], key: K, make: Callable[[K], V]) -> V:
    """The cached value for key, made on first use; a new key's value replaces the last one's (a proof's terms are big)."""
    value = cache.get(key)
    if value is None:
        cache.clear()
        value = cache[key] = make(key)
    return value


_CONTEXTS: dict[ProofTerms, ProofContext] = {}


def context_for(setup: ProofTerms) -> ProofContext:
    """This process's context for a proof (one at a time: a new proof's terms replace the last one's)."""
    return one_at_a_time(_CONTEXTS, setup, ProofContext)


def term_hash(ctx: ProofContext, task: Task) -> str:
    """The obligation's identity: sha256 over the conjunct, the action and every term its queries are made of."""
    h = hashlib.sha256(f"{task.lemma}\0{task.action}\0".encode())
    if task.action == IMPLIED:
        assumed = assumed_conjuncts(task.lemma, IMPLIED, ctx.names)
        h.update(ctx.hyps_hash([n for n in assumed if n != task.lemma]).encode())
        h.update(ctx.plain[task.lemma].sexpr().encode())
    elif task.action is None:
        h.update(z3.Not(definition(task.lemma)(ctx.model, ctx.model.concrete(_init_state(ctx)))).sexpr().encode())
    else:
        h.update(ctx.hyps_hash(ctx.assumed(task.lemma, task.action)).encode())
        for inst, _, eff, post in ctx.steps(task.action):
            h.update(str(inst).encode())
            h.update(z3.And(eff.guard, *eff.aux).sexpr().encode())
            h.update(definition(task.lemma)(ctx.model, post).sexpr().encode())
    return h.hexdigest()


def _init_state(ctx: ProofContext) -> Any:
    from leaderfollower.spec.raft import RaftSpec

    return RaftSpec(ctx.setup.params).init()


# ------------------------------------------------------------ skolemizing


def _bound(q: z3.QuantifierRef, tag: str) -> list[z3.ExprRef]:
    return [z3.Const(f"{tag}_{q.var_name(i)}", q.var_sort(i)) for i in range(q.num_vars())]


def open_quantifier(q: z3.QuantifierRef, consts: Sequence[z3.ExprRef]) -> z3.BoolRef:
    """q's body with its bound variables replaced by `consts`."""
    return z3.substitute_vars(q.body(), *reversed(consts))  # de Bruijn: the last bound variable is Var(0)


def _shape(c: z3.BoolRef) -> Optional[tuple[Optional[z3.QuantifierRef], Optional[z3.BoolRef], z3.QuantifierRef]]:
    """c as (outer ForAll or None, guard or None, Exists) when it is `[ForAll(rs,)] [Implies(guard,)] Exists(vs, body)`."""
    outer = None
    if z3.is_quantifier(c) and c.is_forall():
        outer, c = c, c.body()
    guard = None
    if z3.is_implies(c):
        guard, c = c.arg(0), c.arg(1)
    if z3.is_quantifier(c) and c.is_exists():
        return outer, guard, c
    return None


def instantiate(c: z3.BoolRef, witness: Optional[Witness]) -> Optional[z3.BoolRef]:
    """c of `_shape` with its existential replaced by the witness terms (a stronger formula)."""
    shape = _shape(c) if witness is not None else None
    if shape is None or witness is None:
        return None
    outer, _, _ = shape
    rs, ws = witness
    if outer is not None:
        if outer.num_vars() != len(rs):
            return None
        c = open_quantifier(outer, rs)
    guard = None
    if z3.is_implies(c):
        guard, c = c.arg(0), c.arg(1)
    if not (z3.is_quantifier(c) and c.is_exists()) or c.num_vars() != len(ws):
        return None
    body = open_quantifier(c, ws)
    body = body if guard is None else z3.Implies(guard, body)
    return z3.ForAll(rs, body) if outer is not None else body


def skolemize(e: z3.BoolRef, tag: str) -> tuple[z3.BoolRef, dict[int, Witness]]:
    """e with each top-level conjunct `[ForAll] [Implies] Exists` skolemized: constants, or functions
    of the ForAll's variables (equisatisfiable)."""
    parts = conjuncts(e)
    out: list[z3.BoolRef] = []
    found: dict[int, Witness] = {}
    for k, c in enumerate(parts):
        shape = _shape(c)
        if shape is None:
            out.append(c)
            continue
        outer, _, ex = shape
        rs = _bound(outer, f"skr_{tag}_{k}") if outer is not None else []
        sorts = [ex.var_sort(i) for i in range(ex.num_vars())]
        if rs:
            fns = [z3.Function(f"sk_{tag}_{k}_{ex.var_name(i)}", *[r.sort() for r in rs], sorts[i]) for i in range(len(sorts))]
            ws = [f(*rs) for f in fns]
        else:
            ws = [z3.Const(f"sk_{tag}_{k}_{ex.var_name(i)}", sorts[i]) for i in range(len(sorts))]
        found[k] = (rs, ws)
        inst = instantiate(c, (rs, ws))
        assert inst is not None
        out.append(inst)
    if not found:
        return e, found
    return (z3.And(out) if z3.is_and(e) else out[0]), found


def flat_conjuncts(e: z3.BoolRef) -> list[z3.BoolRef]:
    """e's conjuncts, nested conjunctions flattened (in order)."""
    out, todo = [], [e]
    while todo:
        t = todo.pop()
        if z3.is_and(t):
            todo.extend(reversed(t.children()))
        else:
            out.append(t)
    return out


def split(e: z3.BoolRef, rs: Sequence[z3.ExprRef]) -> list[z3.BoolRef]:
    """`[ForAll(rs,)] [Implies(g,)] And(c1, ...)` as one formula per conjunct ci (their conjunction is e).

    `rs`: the constants the ForAll is opened with (those of its witness), so that
    the pieces of a pre-state and a post-state formula can be compared by identity.
    """
    outer = z3.is_quantifier(e) and e.is_forall()
    if outer:
        if e.num_vars() != len(rs):
            return [e]
        e = open_quantifier(e, rs)
    guard = None
    if z3.is_implies(e):
        guard, e = e.arg(0), e.arg(1)
    out = []
    for c in flat_conjuncts(e):
        c = c if guard is None else z3.Implies(guard, c)
        out.append(z3.ForAll(list(rs), c) if outer else c)
    return out


def conjuncts(e: z3.BoolRef) -> list[z3.BoolRef]:
    """e's top-level conjuncts (e itself when it is not a conjunction)."""
    return list(e.children()) if z3.is_and(e) else [e]


def new_conjuncts(goal: z3.BoolRef, hyp: z3.BoolRef) -> list[tuple[int, z3.BoolRef]]:
    """The top-level conjuncts of goal (with their positions) that are not syntactically conjuncts of hyp."""
    old = {c.get_id() for c in conjuncts(hyp)}
    return [(k, c) for k, c in enumerate(conjuncts(goal)) if c.get_id() not in old]
