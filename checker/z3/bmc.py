"""Bounded model checking with a finite-domain Z3 encoding of the spec, bit-blasted to SAT.

How this works.  `checker/z3/model.py` encodes the spec with unbounded integers,
arrays and an unbounded message bag, which inductive proofs need; bounded model
checking (BMC) does not, and on that encoding its cost grew 2-3x per step.  This
module encodes the same spec *specialised to the model's bounds* (`Params`), so
that every variable has a small finite domain and Z3's QF_FD solver (bit-blasting
to its incremental SAT solver) does the search:

- per server: `term` 0..max_term, `role` (2 bits), `voted_for` (0 is Nil, j + 1 is
  server j), `len` 0..max_log, the log as `max_log` fixed (term, value) slots (slots
  past `len` are kept 0, so a spec state has exactly one encoding of its servers),
  `commit`, and per peer `vr`/`vg` (Bool), `next`, `match`; indexes are bit-vectors
  wide enough for 0..max_log + 1;
- the message bag as `max_in_flight` slots, each with a `present` flag, a `count`
  1..max_copies, a type, source, destination and the union of the four message
  types' fields (unused fields and absent slots are 0).  A message is in at most
  one slot; adding one increments the count of the slot that holds it, else takes
  the first free slot.

**Bounds.**  The explorer does not store a successor that breaks `max_term`,
`max_log`, `max_copies` or `max_in_flight`: no path passes through it.  Here the
same rule is part of each action's guard (Timeout needs `term < max_term`,
ClientRequest `len < max_log`, adding a message needs its slot's count below
`max_copies` or a free slot, ...), so the relation holds exactly between states
within bounds, as the explorer's graph does.  A value the domain cannot hold is an
`EncodingError` when a concrete state is encoded; `tests/test_bmc.py` checks that
every state of explored graphs encodes and that the relation allows exactly the
spec's in-bounds successors.

**Actions.**  As in `z3model.py`, an `Instance` is one disjunct with its server
arguments made concrete; a message handler is an instance per (slot, source,
destination), whose guard reads the slot.  A step's `choice` (a bit-vector)
selects one instance; each state variable's successor is an if-then-else over the
instances that change it.  Each broken variant of `spec/variants.py` is a switch
(`z3model.VARIANT_SWITCHES`, shared so the two encodings cannot disagree on which
class is which); a spec class without one is refused with an `EncodingError`.

**Properties.**  Each always property of `spec/properties.py` has a finite form
here (`PROPERTIES`): TypeOK's own, the others built from their one definition in
`spec/invariants.py` through `z3views.BmcView` (quantifiers over log indexes
expanded to 1..max_log); the tests compare each with the Python evaluation on every
state of explored graphs.

**The search** (`run_bmc`): one incremental QF_FD solver, Init asserted for state
0; at depth d the query is "some pending property fails in state d", asked under
an assumption literal.  Unsatisfiable: the pending properties hold at the end of
every path of d steps (none of them a stutter, below), which is asserted (it is
implied, and it prunes the deeper queries), and state d + 1 is unrolled.  Satisfiable: each pending property
is asked alone; those that can fail at d are violated there, with a path of length
d, and as every shorter depth was unsatisfiable, d is the length of the shortest
path to a violation: the explorer's breadth-first depth.  Steps that leave the
state unchanged (a Restart of a server already reset, an AdvanceCommitIndex that
commits nothing new) are excluded from the unrolling: a shortest path never takes
one, so the shortest depth is unchanged, and the solver has fewer paths to refute.
Tried and dropped (docs/performance-z3.md): a partial-order reduction (two
consecutive steps on different servers taken in a fixed order) and simple-path
constraints (every state of the path distinct) did not make the SAT search
faster.  No symmetry breaking.
"""
from __future__ import annotations

import builtins

import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional, Sequence, TypeAlias

import z3

from leaderfollower.spec.params import Params
from leaderfollower.spec.actions import HANDLERS, NETWORK_ACTIONS, SERVER_ACTIONS, Action, ActionName, argument_tuples
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import (
    CANDIDATE,
    FOLLOWER,
    LEADER,
    NIL,
    ROLES,
    AppendEntriesRequest,
    AppendEntriesResponse,
    Entry,
    Message,
    RequestVoteRequest,
    RequestVoteResponse,
    ServerState,
    State,
)

from leaderfollower.checker.z3.model import EncodingError, Switches, switches_for
from leaderfollower.checker.z3.views import invariant_for_bmc
from leaderfollower.spec.invariants import INVARIANTS

Key = tuple[object, ...]
Term: TypeAlias = z3.ExprRef

ROLE_CODE: dict[str, int] = {FOLLOWER: 0, CANDIDATE: 1, LEADER: 2}
"""A role's 2-bit code."""

MTYPES: tuple[str, ...] = ("RequestVoteRequest", "RequestVoteResponse", "AppendEntriesRequest", "AppendEntriesResponse")
"""Message types by their 2-bit code."""
RVREQ, RVRESP, AEREQ, AERESP = range(4)

SLOT_FIELDS: tuple[str, ...] = (
    "mtype",
    "src",
    "dst",
    "mterm",
    "mlogterm",  # RequestVoteRequest.mlast_log_term, AppendEntriesRequest.mprev_log_term
    "mindex",  # mlast_log_index, mprev_log_index, mmatch_index
    "mflag",  # mvote_granted, msuccess
    "mn",  # AppendEntriesRequest: it carries an entry
    "mentry_term",
    "mentry_value",
    "mcommit",  # AppendEntriesRequest.mcommit_index
)
"""A slot's message fields: one union layout for the four message types."""


def _bits(top: int) -> int:
    """Bit-vector width for the values 0..top."""
    return max(1, top.bit_length())


class Domain:
    """The bit widths of one model's variables, from its bounds."""

    def __init__(self, params: Params) -> None:
        if params.max_entries_per_append != 1:
            raise EncodingError(f"max_entries_per_append={params.max_entries_per_append} has no Z3 encoding (only raft.tla's 1)")
        self.params = params
        self.n = params.servers
        self.term = _bits(params.max_term)
        self.index = _bits(params.max_log + 1)  # next_index reaches max_log + 1
        self.value = _bits(params.values - 1)
        self.voter = _bits(params.servers)  # 0 Nil, j + 1 server j
        self.server = _bits(params.servers - 1)
        self.count = _bits(params.max_copies)

    def sort_of(self, key: Key) -> z3.SortRef:
        """The Z3 sort of a state variable."""
        kind = key[0]
        widths = {
            "term": self.term,
            "role": 2,
            "voted_for": self.voter,
            "len": self.index,
            "log_term": self.term,
            "log_value": self.value,
            "commit": self.index,
            "next": self.index,
            "match": self.index,
            "count": self.count,
            "mtype": 2,
            "src": self.server,
            "dst": self.server,
            "mterm": self.term,
            "mlogterm": self.term,
            "mindex": self.index,
            "mentry_term": self.term,
            "mentry_value": self.value,
            "mcommit": self.index,
        }
        if kind in ("vr", "vg", "present", "mflag", "mn"):
            return z3.BoolSort()
        return z3.BitVecSort(widths[kind])  # type: ignore[index]


def state_keys(params: Params) -> list[Key]:
    """Every variable of a state, in a fixed order."""
    n = params.servers
    out: list[Key] = []
    for i in range(n):
        out += [("term", i), ("role", i), ("voted_for", i), ("len", i), ("commit", i)]
        for k in range(1, params.max_log + 1):
            out += [("log_term", i, k), ("log_value", i, k)]
        for j in range(n):
            out += [("vr", i, j), ("vg", i, j), ("next", i, j), ("match", i, j)]
    for k in range(params.max_in_flight):
        out += [("present", k), ("count", k)] + [(name, k) for name in SLOT_FIELDS]
    return out


class BState:
    """A state as Z3 terms (fresh constants for BMC, values for a concrete state)."""

    def __init__(self, dom: Domain, vars: dict[Key, Term]) -> None:
        self.dom = dom
        self.vars = vars

    def __getitem__(self, key: Key) -> Term:
        return self.vars[key]

    def term(self, i: int) -> z3.BitVecRef:
        return self.vars[("term", i)]  # type: ignore[return-value]

    def role(self, i: int) -> z3.BitVecRef:
        return self.vars[("role", i)]  # type: ignore[return-value]

    def is_role(self, i: int, role: str) -> z3.BoolRef:
        return self.role(i) == ROLE_CODE[role]  # type: ignore[return-value]

    def len(self, i: int) -> z3.BitVecRef:
        return self.vars[("len", i)]  # type: ignore[return-value]

    def commit(self, i: int) -> z3.BitVecRef:
        return self.vars[("commit", i)]  # type: ignore[return-value]

    def log_term(self, i: int, k: int) -> z3.BitVecRef:
        return self.vars[("log_term", i, k)]  # type: ignore[return-value]

    def log_value(self, i: int, k: int) -> z3.BitVecRef:
        return self.vars[("log_value", i, k)]  # type: ignore[return-value]


def _val(sort: z3.SortRef, v: int | bool) -> Term:
    if sort == z3.BoolSort():
        return z3.BoolVal(bool(v))
    return z3.BitVecVal(int(v), sort.size())  # type: ignore[attr-defined]


def _ult(a: Term, b: Term | int) -> z3.BoolRef:
    return z3.ULT(a, b)  # type: ignore[arg-type]


def _ule(a: Term, b: Term | int) -> z3.BoolRef:
    return z3.ULE(a, b)  # type: ignore[arg-type]


def _below(e: Term, bound: int) -> z3.BoolRef:
    """e < bound, for a bound that may not fit e's width (then it always holds)."""
    if bound >= 2 ** e.size():  # type: ignore[attr-defined]
        return z3.BoolVal(True)
    return _ult(e, bound)


def _umin(a: Term, b: Term) -> Term:
    return z3.If(_ule(a, b), a, b)


# ------------------------------------------------------------------ actions


@dataclass(frozen=True)
class Instance:
    """One disjunct of the relation: an action with concrete server arguments (and a slot for a message action)."""

    name: ActionName
    args: tuple[int, ...] = ()
    slot: int = -1
    src: int = -1
    dst: int = -1

    @property
    def is_message(self) -> bool:
        return self.slot >= 0

    def __str__(self) -> str:
        if self.is_message:
            return f"{self.name}(slot {self.slot} {self.src}->{self.dst})"
        return f"{self.name}({', '.join(map(str, self.args))})"


@dataclass
class Effect:
    """An instance from a pre-state: when it is enabled (bounds included), and what it changes."""

    guard: z3.BoolRef
    changes: dict[Key, Term]


class _Tx:
    """A pre-state and the changes an action has made so far."""

    def __init__(self, pre: BState) -> None:
        self.pre = pre
        self.dom = pre.dom
        self.changes: dict[Key, Term] = {}
        self.ok: list[z3.BoolRef] = []  # bound conditions of the successor

    def get(self, key: Key) -> Term:
        return self.changes.get(key, self.pre.vars[key])

    def set(self, key: Key, value: Term | int | bool) -> None:
        self.changes[key] = value if isinstance(value, z3.ExprRef) else _val(self.dom.sort_of(key), value)

    def remove(self, k: int) -> None:
        """One copy fewer of the message in slot k; the slot is cleared when it was the last."""
        count = self.get(("count", k))
        last = count == 1
        self.set(("count", k), z3.If(last, _val(self.dom.sort_of(("count", k)), 0), count - 1))
        self.set(("present", k), z3.And(self.get(("present", k)), z3.Not(last)))
        for name in SLOT_FIELDS:
            key = (name, k)
            self.set(key, z3.If(last, _val(self.dom.sort_of(key), 0), self.get(key)))

    def add(self, msg: dict[str, Term]) -> None:
        """One copy more of msg: in the slot that holds it, else in the first free slot (a bound condition)."""
        dom = self.dom
        K = dom.params.max_in_flight
        present = [self.get(("present", k)) for k in range(K)]
        same = [z3.And(present[k], *[self.get((f, k)) == msg[f] for f in SLOT_FIELDS]) for k in range(K)]
        held = z3.Or(same) if same else z3.BoolVal(False)
        first_free = [z3.And(z3.Not(held), z3.Not(present[k]), *present[:k]) for k in range(K)]
        counts = [self.get(("count", k)) for k in range(K)]
        fits = [z3.And(same[k], _ult(counts[k], dom.params.max_copies)) for k in range(K)] + first_free
        self.ok.append(z3.Or(fits) if fits else z3.BoolVal(False))
        for k in range(K):
            self.set(("count", k), z3.If(same[k], counts[k] + 1, z3.If(first_free[k], _val(dom.sort_of(("count", k)), 1), counts[k])))
            self.set(("present", k), z3.Or(present[k], first_free[k]))
            for f in SLOT_FIELDS:
                self.set((f, k), z3.If(first_free[k], msg[f], self.get((f, k))))

    def message(self, **fields_: Term | int | bool) -> dict[str, Term]:
        """A message's slot fields (the ones not given are 0)."""
        out = {}
        for name in SLOT_FIELDS:
            v = fields_.get(name, 0)
            out[name] = v if isinstance(v, z3.ExprRef) else _val(self.dom.sort_of((name, 0)), v)
        return out

    def effect(self, guard: z3.BoolRef) -> Effect:
        return Effect(z3.And(guard, *self.ok), self.changes)


class BmcModel:
    """The finite-domain relation and properties of one spec and its bounds."""

    def __init__(self, params: Params, switches: Switches = Switches()) -> None:
        self.params = params
        self.dom = Domain(params)
        self.n = params.servers
        self.servers = tuple(range(self.n))
        self.switches = switches
        self.keys = state_keys(params)
        self.instances: tuple[Instance, ...] = tuple(self._instances())

    @classmethod
    def for_spec(cls, spec: RaftSpec) -> "BmcModel":
        """The model of a spec object: its params, and its class's variant switch (EncodingError if none)."""
        return cls(spec.params, switches_for(type(spec)))

    # ------------------------------------------------------------ states

    def fresh(self, prefix: str) -> BState:
        """A state of fresh constants named after prefix."""
        return BState(self.dom, {k: z3.Const(prefix + "_" + "_".join(map(str, k)), self.dom.sort_of(k)) for k in self.keys})

    def values_of(self, s: State, slots: Optional[Sequence[int]] = None) -> dict[Key, int | bool]:
        """A spec state's variables as plain values; EncodingError if it does not fit the bounds or domains.

        `slots`: the slot of each message of the bag, in bag order (default: 0, 1, ...);
        BMC paths leave messages in any slot, and the tests encode them so too.
        """
        self._check_fits(s)
        v = self._server_values(s)
        v.update(self._slot_values(s, slots))
        self._check_domain(v)
        for key, value in v.items():
            sort = self.dom.sort_of(key)
            if sort != z3.BoolSort() and not (0 <= int(value) < 2 ** sort.size()):  # type: ignore[attr-defined]
                raise EncodingError(f"{key} = {value} does not fit the model's {sort.size()}-bit domain")  # type: ignore[attr-defined]
        return v

    def _check_fits(self, s: State) -> None:
        """The state has the model's servers and lies within its bounds."""
        p = self.params
        if len(s.servers) != self.n:
            raise EncodingError(f"state has {len(s.servers)} servers, the model {self.n}")
        if not all(1 <= srv.current_term <= p.max_term and len(srv.log) <= p.max_log for srv in s.servers):
            raise EncodingError(f"state outside max_term={p.max_term} / max_log={p.max_log}: {s}")
        if len(s.messages) > p.max_in_flight or any(c > p.max_copies for _, c in s.messages):
            raise EncodingError(f"bag outside max_in_flight={p.max_in_flight} / max_copies={p.max_copies}: {s.messages}")

    def _server_values(self, s: State) -> dict[Key, int | bool]:
        """Every server's variables, logs padded to max_log with (0, 0)."""
        v: dict[Key, int | bool] = {}
        for i, srv in enumerate(s.servers):
            v[("term", i)] = srv.current_term
            v[("role", i)] = ROLE_CODE[srv.role]
            v[("voted_for", i)] = 0 if srv.voted_for is None else srv.voted_for + 1
            v[("len", i)] = len(srv.log)
            v[("commit", i)] = srv.commit_index
            for k in range(1, self.params.max_log + 1):
                e = srv.log[k - 1] if k <= len(srv.log) else Entry(0, 0)
                v[("log_term", i, k)], v[("log_value", i, k)] = e.term, e.value
            for j in range(self.n):
                v[("vr", i, j)] = j in srv.votes_responded
                v[("vg", i, j)] = j in srv.votes_granted
                v[("next", i, j)] = srv.next_index[j]
                v[("match", i, j)] = srv.match_index[j]
        return v

    def _slot_values(self, s: State, slots: Optional[Sequence[int]]) -> dict[Key, int | bool]:
        """The bag's messages in their slots (default: in bag order), the other slots empty."""
        p = self.params
        where = list(range(len(s.messages))) if slots is None else list(slots)
        if len(where) != len(s.messages) or len(set(where)) != len(where) or not all(0 <= k < p.max_in_flight for k in where):
            raise EncodingError(f"slots {where}: expected {len(s.messages)} distinct slots in 0..{p.max_in_flight - 1}")
        held = {k: item for k, item in zip(where, s.messages)}
        v: dict[Key, int | bool] = {}
        for k in range(p.max_in_flight):
            v[("present", k)] = k in held
            v[("count", k)] = held[k][1] if k in held else 0
            fields_ = _message_fields(held[k][0]) if k in held else {}
            for name in SLOT_FIELDS:
                v[(name, k)] = fields_.get(name, 0)
        return v

    def _check_domain(self, v: dict[Key, int | bool]) -> None:
        """Indexes within the ranges every successor keeps (so no bit-vector ever wraps).

        Every log index a state holds is at most max_log (nextIndex at most max_log + 1,
        and at least 1), and an AppendEntries request's entry lies at an index at most
        max_log; the actions keep these (docs/z3.md, "BMC").
        """
        top = self.params.max_log
        for key, value in v.items():
            kind = key[0]
            if kind in ("len", "commit", "match", "mindex", "mcommit") and int(value) > top:
                raise EncodingError(f"{key} = {value}: beyond max_log={top}")
            if kind == "next" and not 1 <= int(value) <= top + 1:
                raise EncodingError(f"{key} = {value}: outside 1..max_log + 1 = {top + 1}")
        for k in range(self.params.max_in_flight):
            if v[("present", k)] and v[("mtype", k)] == AEREQ and int(v[("mindex", k)]) + int(v[("mn", k)]) > top:
                raise EncodingError(f"slot {k}: an AppendEntries request's entry at index {int(v[('mindex', k)]) + 1} > max_log={top}")

    def concrete(self, s: State, slots: Optional[Sequence[int]] = None) -> BState:
        """A spec state as Z3 values (`slots` as for `values_of`)."""
        return BState(self.dom, {k: _val(self.dom.sort_of(k), x) for k, x in self.values_of(s, slots).items()})

    def equals(self, sym: BState, s: State, slots: Optional[Sequence[int]] = None) -> z3.BoolRef:
        """sym is the spec state s (its bag in the given slots, default in bag order)."""
        c = self.concrete(s, slots)
        return z3.And([sym[k] == c[k] for k in self.keys])

    def init(self, sym: BState) -> z3.BoolRef:
        """raft.tla's Init."""
        return self.equals(sym, RaftSpec(self.params).init())

    def decode(self, m: z3.ModelRef, sym: BState) -> State:
        """The spec state a model gives a symbolic state."""

        def num(key: Key) -> int:
            return int(m.eval(sym[key], model_completion=True).as_long())  # type: ignore[attr-defined]

        def flag(key: Key) -> bool:
            return bool(z3.is_true(m.eval(sym[key], model_completion=True)))

        n = self.n
        servers = []
        for i in self.servers:
            role = num(("role", i))
            if role > 2:
                raise EncodingError(f"server {i}: role code {role}")
            length = num(("len", i))
            vf = num(("voted_for", i))
            servers.append(
                ServerState(
                    current_term=num(("term", i)),
                    role=ROLES[role],
                    voted_for=NIL if vf == 0 else vf - 1,
                    log=tuple(Entry(num(("log_term", i, k)), num(("log_value", i, k))) for k in range(1, length + 1)),
                    commit_index=num(("commit", i)),
                    votes_responded=frozenset(j for j in range(n) if flag(("vr", i, j))),
                    votes_granted=frozenset(j for j in range(n) if flag(("vg", i, j))),
                    next_index=tuple(num(("next", i, j)) for j in range(n)),
                    match_index=tuple(num(("match", i, j)) for j in range(n)),
                )
            )
        bag = []
        for k in range(self.params.max_in_flight):
            if flag(("present", k)):
                values = {name: (flag((name, k)) if name in ("mflag", "mn") else num((name, k))) for name in SLOT_FIELDS}
                bag.append((_message_from(values), num(("count", k))))
        return State(tuple(servers), tuple(sorted(bag)))

    def decode_action(self, m: z3.ModelRef, step: "Step") -> Action:
        """The spec action a model chose for a step (a message action's message read from its slot)."""
        k = int(m.eval(step.choice, model_completion=True).as_long())  # type: ignore[attr-defined]
        inst = step.instances[k]
        if not inst.is_message:
            return Action(inst.name, inst.args)
        pre = step.pre
        values = {
            name: (bool(z3.is_true(m.eval(pre[(name, inst.slot)], model_completion=True))) if name in ("mflag", "mn")
                   else int(m.eval(pre[(name, inst.slot)], model_completion=True).as_long()))  # type: ignore[attr-defined]
            for name in SLOT_FIELDS
        }
        return Action(inst.name, (_message_from(values),))

    # ----------------------------------------------------------- helpers

    def is_quorum(self, members: Sequence[z3.BoolRef]) -> z3.BoolRef:
        """raft.tla's Quorum over n flags (the variant's half-or-more when switched)."""
        need = self.n // 2 if self.switches.non_majority_quorum and self.n % 2 == 0 else self.n // 2 + 1
        return z3.AtLeast(*members, need) if members else z3.BoolVal(need <= 0)  # type: ignore[no-any-return]

    def entry_term(self, s: BState | _Tx, i: int, index: Term) -> Term:
        """The term of server i's entry at a symbolic index (0 outside 1..max_log)."""
        get = s.get if isinstance(s, _Tx) else s.__getitem__
        out: Term = _val(self.dom.sort_of(("log_term", i, 1)), 0)
        for k in range(1, self.params.max_log + 1):
            out = z3.If(index == k, get(("log_term", i, k)), out)
        return out

    def entry_value(self, s: BState | _Tx, i: int, index: Term) -> Term:
        get = s.get if isinstance(s, _Tx) else s.__getitem__
        out: Term = _val(self.dom.sort_of(("log_value", i, 1)), 0)
        for k in range(1, self.params.max_log + 1):
            out = z3.If(index == k, get(("log_value", i, k)), out)
        return out

    def last_term(self, s: BState, i: int) -> Term:
        return self.entry_term(s, i, s.len(i))

    def _index(self, v: int) -> Term:
        return _val(self.dom.sort_of(("len", 0)), v)

    # ----------------------------------------------------------- actions

    def _instances(self) -> Iterator[Instance]:
        # The spec's action table (spec/actions.py), in its order: server actions over
        # their argument tuples, then per bag slot the handlers (UpdateTerm reads no
        # sender: one instance per recipient) and the network's actions.
        for row in SERVER_ACTIONS:
            for args in argument_tuples(row, self.servers, range(self.params.values)):
                if row.name is ActionName.AppendEntries and args[0] == args[1]:
                    continue  # never enabled (the spec's guard)
                yield Instance(row.name, args)
        for k in range(self.params.max_in_flight):
            for row in HANDLERS:
                if row.name is ActionName.UpdateTerm:
                    for i in self.servers:
                        yield Instance(row.name, slot=k, dst=i)
                    continue
                for j in self.servers:
                    for i in self.servers:
                        yield Instance(row.name, slot=k, src=j, dst=i)
            for row in NETWORK_ACTIONS:
                yield Instance(row.name, slot=k)

    def effect(self, inst: Instance, pre: BState) -> Effect:
        """The guard and changes of one instance from pre."""
        tx = _Tx(pre)
        method = getattr(self, "_" + inst.name)
        if inst.is_message:
            return method(tx, inst)  # type: ignore[no-any-return]
        return method(tx, *inst.args)  # type: ignore[no-any-return]

    def _Timeout(self, tx: _Tx, i: int) -> Effect:
        """Server i times out and starts a new election (enabled only below max_term)."""
        pre = tx.pre
        guard = z3.And(z3.Or(pre.is_role(i, FOLLOWER), pre.is_role(i, CANDIDATE)), _ult(pre.term(i), self.params.max_term))
        tx.set(("term", i), pre.term(i) + 1)
        tx.set(("role", i), ROLE_CODE[CANDIDATE])
        tx.set(("voted_for", i), 0)
        for j in self.servers:
            tx.set(("vr", i, j), False)
            tx.set(("vg", i, j), False)
        return tx.effect(guard)

    def _Restart(self, tx: _Tx, i: int) -> Effect:
        """Server i restarts from stable storage: it keeps its term, vote and log only."""
        tx.set(("role", i), ROLE_CODE[FOLLOWER])
        tx.set(("commit", i), 0)
        for j in self.servers:
            tx.set(("vr", i, j), False)
            tx.set(("vg", i, j), False)
            tx.set(("next", i, j), 1)
            tx.set(("match", i, j), 0)
        if self.switches.vote_not_persisted:
            tx.set(("voted_for", i), 0)
        return tx.effect(z3.BoolVal(True))

    def _RequestVote(self, tx: _Tx, i: int, j: int) -> Effect:
        """Candidate i sends j (possibly itself) a RequestVote request."""
        pre = tx.pre
        guard = z3.And(pre.is_role(i, CANDIDATE), z3.Not(pre[("vr", i, j)]))
        tx.add(tx.message(mtype=RVREQ, src=i, dst=j, mterm=pre.term(i), mlogterm=self.last_term(pre, i), mindex=pre.len(i)))
        return tx.effect(guard)

    def _AppendEntries(self, tx: _Tx, i: int, j: int) -> Effect:
        """Leader i sends j an AppendEntries request with at most one entry."""
        pre = tx.pre
        nxt = pre[("next", i, j)]
        prev = nxt - 1
        has_entry = _ule(nxt, pre.len(i))
        last_entry = _umin(pre.len(i), nxt)
        msg = tx.message(
            mtype=AEREQ,
            src=i,
            dst=j,
            mterm=pre.term(i),
            mlogterm=self.entry_term(pre, i, prev),  # 0 when prev is 0
            mindex=prev,
            mn=has_entry,
            mentry_term=z3.If(has_entry, self.entry_term(pre, i, nxt), _val(self.dom.sort_of(("mterm", 0)), 0)),
            mentry_value=z3.If(has_entry, self.entry_value(pre, i, nxt), _val(self.dom.sort_of(("mentry_value", 0)), 0)),
            mcommit=_umin(pre.commit(i), last_entry),
        )
        tx.add(msg)
        return tx.effect(pre.is_role(i, LEADER))

    def _BecomeLeader(self, tx: _Tx, i: int) -> Effect:
        """Candidate i, granted votes by a quorum, becomes leader."""
        pre = tx.pre
        guard = z3.And(pre.is_role(i, CANDIDATE), self.is_quorum([pre[("vg", i, j)] for j in self.servers]))
        tx.set(("role", i), ROLE_CODE[LEADER])
        for j in self.servers:
            tx.set(("next", i, j), pre.len(i) + 1)
            tx.set(("match", i, j), 0)
        return tx.effect(guard)

    def _ClientRequest(self, tx: _Tx, i: int, v: int) -> Effect:
        """Leader i appends value v to its log (enabled only below max_log)."""
        pre = tx.pre
        length = pre.len(i)
        for k in range(1, self.params.max_log + 1):
            here = length == k - 1
            tx.set(("log_term", i, k), z3.If(here, pre.term(i), pre.log_term(i, k)))
            tx.set(("log_value", i, k), z3.If(here, _val(self.dom.sort_of(("log_value", i, k)), v), pre.log_value(i, k)))
        tx.set(("len", i), length + 1)
        return tx.effect(z3.And(pre.is_role(i, LEADER), _ult(length, self.params.max_log)))

    def _AdvanceCommitIndex(self, tx: _Tx, i: int) -> Effect:
        """Leader i commits the highest index a quorum holds, if that entry is from its own term."""
        pre = tx.pre
        agreed: Term = self._index(0)
        for k in range(1, self.params.max_log + 1):  # ascending: the last that holds wins
            members = [z3.BoolVal(True) if j == i else _ule(self._index(k), pre[("match", i, j)]) for j in self.servers]
            agreed = z3.If(z3.And(_ule(self._index(k), pre.len(i)), self.is_quorum(members)), self._index(k), agreed)
        ok = agreed != 0
        if not self.switches.commit_previous_term:
            ok = z3.And(ok, self.entry_term(pre, i, agreed) == pre.term(i))
        tx.set(("commit", i), z3.If(ok, agreed, pre.commit(i)))
        return tx.effect(pre.is_role(i, LEADER))

    # ----------------------------------------------------- message handlers
    # i = recipient (dst), j = sender (src); the message is the one in slot k.

    def _in_slot(self, tx: _Tx, inst: Instance, mtypes: Sequence[int]) -> tuple[dict[str, Term], z3.BoolRef]:
        k = inst.slot
        pre = tx.pre
        msg = {name: pre[(name, k)] for name in SLOT_FIELDS}
        here = [pre[("present", k)], z3.Or([msg["mtype"] == t for t in mtypes])]
        if inst.src >= 0:
            here.append(msg["src"] == inst.src)
        if inst.dst >= 0:
            here.append(msg["dst"] == inst.dst)
        return msg, z3.And(here)

    def _UpdateTerm(self, tx: _Tx, inst: Instance) -> Effect:
        """Server i sees a newer term in any message and becomes a follower in it (m stays)."""
        i = inst.dst
        msg, here = self._in_slot(tx, inst, range(4))
        guard = z3.And(here, _ult(tx.pre.term(i), msg["mterm"]))
        tx.set(("term", i), msg["mterm"])
        tx.set(("role", i), ROLE_CODE[FOLLOWER])
        tx.set(("voted_for", i), 0)
        return tx.effect(guard)

    def _HandleRequestVoteRequest(self, tx: _Tx, inst: Instance) -> Effect:
        """Server i answers candidate j's vote request, granting it if the term, log and its vote allow."""
        i, j, pre = inst.dst, inst.src, tx.pre
        msg, here = self._in_slot(tx, inst, [RVREQ])
        guard = z3.And(here, _ule(msg["mterm"], pre.term(i)))
        if self.switches.vote_without_log_check:
            log_ok: z3.BoolRef = z3.BoolVal(True)
        else:
            lt = self.last_term(pre, i)
            log_ok = z3.Or(_ult(lt, msg["mlogterm"]), z3.And(msg["mlogterm"] == lt, _ule(pre.len(i), msg["mindex"])))
        vf = pre[("voted_for", i)]
        grant = z3.And(msg["mterm"] == pre.term(i), log_ok, z3.Or(vf == 0, vf == j + 1))
        tx.set(("voted_for", i), z3.If(grant, _val(vf.sort(), j + 1), vf))
        tx.remove(inst.slot)
        tx.add(tx.message(mtype=RVRESP, src=i, dst=j, mterm=pre.term(i), mflag=grant))
        return tx.effect(guard)

    def _tally(self, tx: _Tx, i: int, j: int, granted: z3.BoolRef) -> None:
        tx.set(("vr", i, j), True)
        tx.set(("vg", i, j), z3.Or(tx.pre[("vg", i, j)], granted))

    def _HandleRequestVoteResponse(self, tx: _Tx, inst: Instance) -> Effect:
        """Server i tallies j's answer to its vote request of the current term."""
        i, j = inst.dst, inst.src
        msg, here = self._in_slot(tx, inst, [RVRESP])
        guard = z3.And(here, msg["mterm"] == tx.pre.term(i))
        self._tally(tx, i, j, msg["mflag"])  # type: ignore[arg-type]
        tx.remove(inst.slot)
        return tx.effect(guard)

    def _HandleAppendEntriesRequest(self, tx: _Tx, inst: Instance) -> Effect:
        """Server i handles leader j's AppendEntries: reject, step down, or accept (done, conflict, append)."""
        i, j, pre = inst.dst, inst.src, tx.pre
        msg, here = self._in_slot(tx, inst, [AEREQ])
        term, role, length = pre.term(i), pre.role(i), pre.len(i)
        prev = msg["mindex"]
        log_ok = z3.Or(prev == 0, z3.And(_ule(prev, length), msg["mlogterm"] == self.entry_term(pre, i, prev)))
        stale = _ult(msg["mterm"], term)
        follower = role == ROLE_CODE[FOLLOWER]
        reject = z3.Or(stale, z3.And(follower, z3.Not(log_ok)))
        if self.switches.accept_stale_term:
            reject = z3.And(reject, z3.Not(z3.And(stale, follower, log_ok)))
        step_down = z3.And(z3.Not(reject), role == ROLE_CODE[CANDIDATE])
        accept = z3.And(z3.Not(reject), follower)
        index = prev + 1
        matches = z3.Or(z3.Not(msg["mn"]), z3.And(_ule(index, length), self.entry_term(pre, i, index) == msg["mentry_term"]))
        done = z3.And(accept, matches)
        conflict = z3.And(accept, z3.Not(matches), _ule(index, length))
        append = z3.And(accept, z3.Not(matches), length == prev)
        replies = z3.Or(reject, done)
        # The reply (reject or done) goes through its own transaction, merged under `replies`.
        sub = _Tx(pre)
        sub.remove(inst.slot)
        mn = z3.If(msg["mn"], self._index(1), self._index(0))
        sub.add(sub.message(mtype=AERESP, src=i, dst=j, mterm=term, mflag=z3.Not(reject), mindex=z3.If(reject, self._index(0), prev + mn)))
        for key, value in sub.changes.items():
            tx.set(key, z3.If(replies, value, pre[key]))
        reply_ok = z3.Implies(replies, z3.And(sub.ok))
        tx.set(("role", i), z3.If(step_down, _val(role.sort(), ROLE_CODE[FOLLOWER]), role))
        tx.set(("commit", i), z3.If(done, msg["mcommit"], pre.commit(i)))
        tx.set(("len", i), z3.If(conflict, length - 1, z3.If(append, length + 1, length)))
        for k in range(1, self.params.max_log + 1):
            zero_t, zero_v = _val(pre.log_term(i, k).sort(), 0), _val(pre.log_value(i, k).sort(), 0)
            dropped = z3.And(conflict, length == k)  # the last entry goes (kept 0: one encoding per state)
            added = z3.And(append, index == k)
            tx.set(("log_term", i, k), z3.If(dropped, zero_t, z3.If(added, msg["mentry_term"], pre.log_term(i, k))))
            tx.set(("log_value", i, k), z3.If(dropped, zero_v, z3.If(added, msg["mentry_value"], pre.log_value(i, k))))
        guard = z3.And(here, _ule(msg["mterm"], term), z3.Or(reject, step_down, done, conflict, append), reply_ok)
        return tx.effect(guard)

    def _HandleAppendEntriesResponse(self, tx: _Tx, inst: Instance) -> Effect:
        """Server i records j's answer to its AppendEntries request of the current term."""
        i, j, pre = inst.dst, inst.src, tx.pre
        msg, here = self._in_slot(tx, inst, [AERESP])
        guard = z3.And(here, msg["mterm"] == pre.term(i))
        nxt = pre[("next", i, j)]
        mm = msg["mindex"]
        tx.set(("next", i, j), z3.If(msg["mflag"], mm + 1, z3.If(_ult(1, nxt - 1), nxt - 1, self._index(1))))
        tx.set(("match", i, j), z3.If(msg["mflag"], mm, pre[("match", i, j)]))
        tx.remove(inst.slot)
        return tx.effect(guard)

    def _DropStaleResponse(self, tx: _Tx, inst: Instance) -> Effect:
        """Server i discards a response from an older term."""
        i, j = inst.dst, inst.src
        msg, here = self._in_slot(tx, inst, [RVRESP, AERESP])
        guard = z3.And(here, _ult(msg["mterm"], tx.pre.term(i)))
        if self.switches.stale_vote_counted:
            is_vote = msg["mtype"] == RVRESP
            tx.set(("vr", i, j), z3.Or(tx.pre[("vr", i, j)], is_vote))
            tx.set(("vg", i, j), z3.Or(tx.pre[("vg", i, j)], z3.And(is_vote, msg["mflag"])))
        tx.remove(inst.slot)
        return tx.effect(guard)

    def _DuplicateMessage(self, tx: _Tx, inst: Instance) -> Effect:
        """The network duplicates the message in the slot (below max_copies)."""
        k = inst.slot
        count = tx.pre[("count", k)]
        tx.set(("count", k), count + 1)
        return tx.effect(z3.And(tx.pre[("present", k)], _ult(count, self.params.max_copies)))

    def _DropMessage(self, tx: _Tx, inst: Instance) -> Effect:
        """The network loses one copy of the message in the slot."""
        tx.remove(inst.slot)
        return tx.effect(tx.pre[("present", inst.slot)])  # type: ignore[arg-type]

    # -------------------------------------------------------- the relation

    def transition(self, pre: BState, tag: str) -> "Step":
        """The relation from pre as a function of a `choice`: `enabled`, and the successor's terms."""
        width = _bits(max(1, len(self.instances) - 1))
        choice = z3.BitVec(f"choice{tag}", width)
        effects = [self.effect(inst, pre) for inst in self.instances]
        enabled = z3.Or([z3.And(choice == k, e.guard) for k, e in enumerate(effects)])
        post: dict[Key, Term] = {}
        for key in self.keys:
            value = pre[key]
            for k, e in enumerate(effects):
                if key in e.changes and not z3.eq(e.changes[key], pre[key]):
                    value = z3.If(choice == k, e.changes[key], value)
            post[key] = value
        return Step(self.instances, choice, pre, enabled, BState(self.dom, post))

    def step(self, pre: BState, post: BState, tag: str) -> "Step":
        """The relation between two states of constants (for unrolling)."""
        st = self.transition(pre, tag)
        st.relation = z3.And(st.enabled, *[post[k] == st.post[k] for k in self.keys])
        st.post = post
        return st


@dataclass
class Step:
    """One step of the relation."""

    instances: tuple[Instance, ...]
    choice: z3.BitVecRef
    pre: BState
    enabled: z3.BoolRef
    """Some instance is chosen and enabled (bounds included)."""
    post: BState
    """From `transition`: the successor's terms over pre; from `step`: the post-state's constants."""
    relation: z3.BoolRef = field(default_factory=lambda: z3.BoolVal(True))
    """From `step`: enabled, and the post-state's constants equal the successor's terms."""


def _message_fields(m: Message) -> dict[str, int | bool]:
    """A spec message as slot fields (the inverse of `_message_from`)."""
    base: dict[str, int | bool] = {"mtype": MTYPES.index(m.mtype), "src": m.msource, "dst": m.mdest, "mterm": m.mterm}
    if isinstance(m, RequestVoteRequest):
        base.update(mlogterm=m.mlast_log_term, mindex=m.mlast_log_index)
    elif isinstance(m, RequestVoteResponse):
        base.update(mflag=m.mvote_granted)
    elif isinstance(m, AppendEntriesRequest):
        if len(m.mentries) > 1:
            raise EncodingError("an AppendEntries request with more than one entry has no Z3 encoding")
        base.update(mlogterm=m.mprev_log_term, mindex=m.mprev_log_index, mcommit=m.mcommit_index, mn=bool(m.mentries))
        if m.mentries:
            base.update(mentry_term=m.mentries[0].term, mentry_value=m.mentries[0].value)
    elif isinstance(m, AppendEntriesResponse):
        base.update(mflag=m.msuccess, mindex=m.mmatch_index)
    return base


def _message_from(v: dict[str, int | bool]) -> Message:
    """The spec message of a slot's field values."""
    mtype = MTYPES[int(v["mtype"])]
    src, dst, term = int(v["src"]), int(v["dst"]), int(v["mterm"])
    if mtype == "RequestVoteRequest":
        return RequestVoteRequest(mtype, term, int(v["mlogterm"]), int(v["mindex"]), src, dst)
    if mtype == "RequestVoteResponse":
        return RequestVoteResponse(mtype, term, bool(v["mflag"]), src, dst)
    if mtype == "AppendEntriesRequest":
        entries = (Entry(int(v["mentry_term"]), int(v["mentry_value"])),) if v["mn"] else ()
        return AppendEntriesRequest(mtype, term, int(v["mindex"]), int(v["mlogterm"]), entries, int(v["mcommit"]), src, dst)
    return AppendEntriesResponse(mtype, term, bool(v["mflag"]), int(v["mindex"]), src, dst)


# --------------------------------------------------------------- properties

PropertyDef = Callable[[BmcModel, BState], z3.BoolRef]


def _all(items: Sequence[z3.BoolRef]) -> z3.BoolRef:
    return z3.And(*items) if items else z3.BoolVal(True)


def type_ok(z: BmcModel, s: BState) -> z3.BoolRef:
    """TypeOK over the finite domain: terms >= 1, roles and votes valid, entries typed, nextIndex >= 1, messages well-formed."""
    p = z.params
    out = []
    for i in z.servers:
        out += [s.term(i) != 0, _ule(s.role(i), 2), _ule(s[("voted_for", i)], z.n)]
        for k in range(1, p.max_log + 1):
            out.append(z3.Implies(_ule(z._index(k), s.len(i)), z3.And(s.log_term(i, k) != 0, _below(s.log_value(i, k), p.values))))
        out += [s[("next", i, j)] != 0 for j in z.servers]
    for k in range(p.max_in_flight):
        well = [s[("count", k)] != 0, s[("mterm", k)] != 0, _below(s[("src", k)], z.n), _below(s[("dst", k)], z.n)]
        out.append(z3.Implies(s[("present", k)], z3.And(well)))
    return _all(out)


PROPERTIES: dict[str, PropertyDef] = {"TypeOK": type_ok, **{name: invariant_for_bmc(inv) for name, inv in INVARIANTS.items()}}
"""The finite-domain form of every always property of `spec.properties` (same names): TypeOK's own, the
others built from their one definition in `spec.invariants`."""


# -------------------------------------------------------------------- BMC


@dataclass
class Finding:
    """One property's result on the finite-domain encoding, from BMC (`run_bmc`) or IC3 (`pdr.run_pdr`).

    `violated`: with the shortest path (`states`, `actions`) of `depth` steps.
    Otherwise no violation within `depth` steps, or (IC3 only) `proved`: the
    property holds at every depth, and `invariant` is the inductive invariant found
    (its clauses as the cubes they exclude, checked by `pdr.Certificate`).
    """

    property: str
    violated: bool
    depth: int
    seconds: float
    states: list[State] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    proved: bool = False
    invariant: list[frozenset[int]] = field(default_factory=list)

    @builtins.property
    def invariant_clauses(self) -> int:
        """The size of the invariant found (0 unless proved)."""
        return len(self.invariant)


ProgressFn = Callable[[str, int, int], None]


def _stutters(z: BmcModel, st: Step) -> z3.BoolRef:
    """The step leaves every variable unchanged."""
    return _same_state(z, st.pre, st.post)


def _same_state(z: BmcModel, a: BState, b: BState) -> z3.BoolRef:
    return z3.And([a[k] == b[k] for k in z.keys])


def _check(solver: z3.Solver, assumption: z3.BoolRef, depth: int) -> bool:
    """Satisfiable under the assumption; an `unknown` (it should not happen in QF_FD) is an error, not a pass."""
    res = solver.check(assumption)
    if res == z3.unknown:
        raise RuntimeError(f"BMC depth {depth}: Z3 answered unknown ({solver.reason_unknown()})")
    return bool(res == z3.sat)


def property_defs(properties: Sequence[str], extra: Optional[dict[str, PropertyDef]] = None) -> dict[str, PropertyDef]:
    """The finite-domain definitions by name (`PROPERTIES` and `extra`); EncodingError for a name with none."""
    defs = {**PROPERTIES, **(extra or {})}
    for name in properties:
        if name not in defs:
            raise EncodingError(f"property {name!r} has no finite-domain encoding; known: {', '.join(defs)}")
    return defs


def run_bmc(
    spec: RaftSpec,
    properties: Sequence[str],
    depth: int,
    *,
    progress: Optional[ProgressFn] = None,
    extra: Optional[dict[str, PropertyDef]] = None,
    on_depth: Optional[Callable[[int, float], None]] = None,
) -> list[Finding]:
    """The shortest violation of each property within `depth` steps under the spec's bounds, or none.

    `extra` adds property definitions by name (tests use it); `on_depth(d, seconds)`
    is called when depth d is settled, with the time since the start.
    """
    defs = property_defs(properties, extra)
    z = BmcModel.for_spec(spec)
    start = time.perf_counter()
    solver = z3.SolverFor("QF_FD")
    states = [z.fresh("s0")]
    steps: list[Step] = []
    solver.add(z.init(states[0]))
    pending = list(properties)
    found: dict[str, Finding] = {}
    for d in range(depth + 1):
        if not pending:
            break
        if progress:
            progress("bmc", d, depth)
        s = states[d]
        holds = {name: defs[name](z, s) for name in pending}
        bad = z3.Bool(f"bad_{d}")
        solver.add(z3.Implies(bad, z3.Or([z3.Not(h) for h in holds.values()])))
        if _check(solver, bad, d):
            for name in list(pending):
                ask = z3.Bool(f"bad_{d}_{name}")
                solver.add(z3.Implies(ask, z3.Not(holds[name])))
                if _check(solver, ask, d):
                    m = solver.model()
                    found[name] = Finding(
                        name, True, d, time.perf_counter() - start, [z.decode(m, x) for x in states], [z.decode_action(m, st) for st in steps]
                    )
                    pending.remove(name)
        # What holds in every state reachable in exactly d steps (implied by the unsat answers).
        solver.add(*[holds[name] for name in pending])
        if on_depth:
            on_depth(d, time.perf_counter() - start)
        if not pending or d == depth:
            break
        nxt = z.fresh(f"s{d + 1}")
        st = z.step(s, nxt, f"_{d}")
        solver.add(st.relation, z3.Not(_stutters(z, st)))
        states.append(nxt)
        steps.append(st)
    elapsed = time.perf_counter() - start
    return [found.get(name) or Finding(name, False, depth, elapsed) for name in properties]
