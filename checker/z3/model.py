"""The spec's state, actions and invariants as Z3 terms, for a fixed number of servers.

How this works: a symbolic state (`Sym`) is a dict from a variable's key to a Z3
term, one entry per raft.tla variable and server (or server pair):

- `("term", i)` Int, `("role", i)` the `Role` enum, `("voted_for", i)` Int (`NIL_ID`
  = -1 for Nil), `("commit", i)` Int;
- the log as `("len", i)` Int and two arrays Int -> Int, `("log_term", i)` and
  `("log_value", i)`, indexed 1..len (entries past `len` are don't-cares);
- `("vr", i, j)` / `("vg", i, j)` Bool: j is in i's votes_responded / votes_granted;
  `("next", i, j)` / `("match", i, j)` Int;
- the network: per message type and (source, destination) pair, an array from a
  message record (the other fields, a Z3 datatype) to its count, so
  `("net", "RequestVoteResponse", j, i)[rvresp(term, granted)]` is how many copies
  of that response are in flight.  A message is in flight when its count is at
  least 1.  This is the bag of `spec.state` exactly, without a bound on its size:
  adding is `count + 1`, removing `count - 1` (docs/z3.md).
- `("inflight",)`: a ghost Int, the number of distinct messages in flight, kept
  only so that bounded model checking can apply `max_in_flight` as the explorer's
  state constraint does.  No invariant or lemma mentions it.

An action instance (`Instance`: an action name and its server arguments, or a
message type and a (source, destination) pair) maps a pre-state to an `Effect`: a
guard and the variables it changes.  For a message action the message's other
fields are one Z3 constant of the record sort (`Step.message`), so one instance
stands for every message of that type between those two servers.  The transition
relation is the disjunction of the instances, each selected by a step's `choice`
integer; a variable's successor is an if-then-else over the instances that change
it, defaulting to its old value (no frame equalities per instance).

The encoding is written separately from `spec.raft` (one method here per method
there, in the same order); `tests/test_z3_agreement.py` proves the two agree.  A
broken variant of `spec.variants` maps to an encoding switch (`VARIANT_SWITCHES`);
a spec class without one is refused with an `EncodingError`.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Callable, Iterable, Optional, Sequence

import z3

from leaderfollower.spec.actions import NETWORK_ACTIONS, SERVER_ACTIONS, ActionName, argument_tuples, handlers_of
from leaderfollower.spec.params import Params
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import (
    CANDIDATE,
    FOLLOWER,
    LEADER,
    AppendEntriesRequest,
    Message,
    State,
)
from leaderfollower.spec.variants import (
    AcceptStaleTerm,
    CommitPreviousTermByCounting,
    NonMajorityQuorum,
    StaleResponseCounted,
    VoteNotPersisted,
    VoteWithoutLogCheck,
)

NIL_ID = -1
"""How `voted_for = Nil` is encoded."""

Key = tuple[object, ...]


class EncodingError(Exception):
    """The spec or its parameters have no Z3 encoding; the message says which and why."""


# --------------------------------------------------------------------- sorts

Role, (Z_FOLLOWER, Z_CANDIDATE, Z_LEADER) = z3.EnumSort("Role", ["Follower", "Candidate", "Leader"])
ROLE_OF: dict[str, z3.ExprRef] = {FOLLOWER: Z_FOLLOWER, CANDIDATE: Z_CANDIDATE, LEADER: Z_LEADER}


def _record(name: str, *fields_: tuple[str, z3.SortRef]) -> z3.DatatypeSortRef:
    d = z3.Datatype(name)
    d.declare(name, *fields_)
    return d.create()


_I, _B = z3.IntSort(), z3.BoolSort()
RECORDS: dict[str, z3.DatatypeSortRef] = {
    "RequestVoteRequest": _record("RVReq", ("mterm", _I), ("mlast_log_term", _I), ("mlast_log_index", _I)),
    "RequestVoteResponse": _record("RVResp", ("mterm", _I), ("mvote_granted", _B)),
    # mentries holds at most one entry: mn is 0 or 1, and (mentry_term, mentry_value)
    # is that entry (both 0 when there is none, so that each message has one record).
    "AppendEntriesRequest": _record(
        "AEReq",
        ("mterm", _I),
        ("mprev_log_index", _I),
        ("mprev_log_term", _I),
        ("mn", _I),
        ("mentry_term", _I),
        ("mentry_value", _I),
        ("mcommit_index", _I),
    ),
    "AppendEntriesResponse": _record("AEResp", ("mterm", _I), ("msuccess", _B), ("mmatch_index", _I)),
}
MESSAGE_TYPE_NAMES: tuple[str, ...] = tuple(RECORDS)


def field(rec: z3.ExprRef, name: str) -> z3.ExprRef:
    """The field `name` of a message record term."""
    sort = rec.sort()
    ctor = sort.constructor(0)
    for k in range(ctor.arity()):
        acc = sort.accessor(0, k)
        if acc.name() == name:
            return acc(rec)
    raise KeyError(f"message record {sort.name()} has no field {name}")


def make_record(mtype: str, **values: object) -> z3.ExprRef:
    """A message record term of type `mtype` from field values (Python ints and bools or Z3 terms)."""
    sort = RECORDS[mtype]
    ctor = sort.constructor(0)
    args = [values[sort.accessor(0, k).name()] for k in range(ctor.arity())]
    return ctor(*args)


def record_of(m: Message) -> z3.ExprRef:
    """The record term of a concrete message (its source and destination are the array's)."""
    if isinstance(m, AppendEntriesRequest):
        if len(m.mentries) > 1:
            raise EncodingError("an AppendEntries request with more than one entry has no Z3 encoding")
        et, ev = (m.mentries[0].term, m.mentries[0].value) if m.mentries else (0, 0)
        return make_record(
            m.mtype,
            mterm=m.mterm,
            mprev_log_index=m.mprev_log_index,
            mprev_log_term=m.mprev_log_term,
            mn=len(m.mentries),
            mentry_term=et,
            mentry_value=ev,
            mcommit_index=m.mcommit_index,
        )
    values = {name: getattr(m, name) for name in m._fields if name not in ("mtype", "msource", "mdest")}
    return make_record(m.mtype, **values)


# --------------------------------------------------------------- switches


@dataclass(frozen=True)
class Switches:
    """The encoding's override points, one per method a shipped broken variant overrides."""

    vote_without_log_check: bool = False
    """`vote_log_ok` is always true (VoteWithoutLogCheck)."""
    vote_not_persisted: bool = False
    """`restart` also forgets `voted_for` (VoteNotPersisted)."""
    commit_previous_term: bool = False
    """`advance_commit_index` skips the current-term check (CommitPreviousTermByCounting)."""
    accept_stale_term: bool = False
    """`handle_append_entries_request` accepts from an older term (AcceptStaleTerm)."""
    non_majority_quorum: bool = False
    """`is_quorum` is half or more (NonMajorityQuorum)."""
    stale_vote_counted: bool = False
    """`drop_stale_response` tallies a stale vote response (StaleResponseCounted)."""


VARIANT_SWITCHES: dict[type[RaftSpec], Switches] = {
    RaftSpec: Switches(),
    VoteWithoutLogCheck: Switches(vote_without_log_check=True),
    VoteNotPersisted: Switches(vote_not_persisted=True),
    CommitPreviousTermByCounting: Switches(commit_previous_term=True),
    AcceptStaleTerm: Switches(accept_stale_term=True),
    NonMajorityQuorum: Switches(non_majority_quorum=True),
    StaleResponseCounted: Switches(stale_vote_counted=True),
}
"""Each spec class with a Z3 encoding, and the switches that encode its overrides."""


def switches_for(spec_cls: type[RaftSpec]) -> Switches:
    """The switches for a spec class; raises EncodingError for a class without an encoding."""
    try:
        return VARIANT_SWITCHES[spec_cls]
    except KeyError:
        known = ", ".join(cls.name for cls in VARIANT_SWITCHES)
        raise EncodingError(
            f"spec {spec_cls.name!r} ({spec_cls.__qualname__}) has no Z3 encoding; prove supports: {known}"
        ) from None


# ----------------------------------------------------------------- states


class Sym:
    """A symbolic (or concrete, as Z3 values) global state of n servers."""

    def __init__(self, n: int, vars: dict[Key, z3.ExprRef]) -> None:
        self.n = n
        self.vars = vars

    def __getitem__(self, key: Key) -> z3.ExprRef:
        return self.vars[key]

    def term(self, i: int) -> z3.ArithRef:
        return self.vars[("term", i)]  # type: ignore[return-value]

    def role(self, i: int) -> z3.ExprRef:
        return self.vars[("role", i)]

    def voted_for(self, i: int) -> z3.ArithRef:
        return self.vars[("voted_for", i)]  # type: ignore[return-value]

    def len(self, i: int) -> z3.ArithRef:
        return self.vars[("len", i)]  # type: ignore[return-value]

    def log_term(self, i: int) -> z3.ArrayRef:
        return self.vars[("log_term", i)]  # type: ignore[return-value]

    def log_value(self, i: int) -> z3.ArrayRef:
        return self.vars[("log_value", i)]  # type: ignore[return-value]

    def commit(self, i: int) -> z3.ArithRef:
        return self.vars[("commit", i)]  # type: ignore[return-value]

    def vr(self, i: int, j: int) -> z3.BoolRef:
        return self.vars[("vr", i, j)]  # type: ignore[return-value]

    def vg(self, i: int, j: int) -> z3.BoolRef:
        return self.vars[("vg", i, j)]  # type: ignore[return-value]

    def next(self, i: int, j: int) -> z3.ArithRef:
        return self.vars[("next", i, j)]  # type: ignore[return-value]

    def match(self, i: int, j: int) -> z3.ArithRef:
        return self.vars[("match", i, j)]  # type: ignore[return-value]

    def net(self, mtype: str, src: int, dst: int) -> z3.ArrayRef:
        return self.vars[("net", mtype, src, dst)]  # type: ignore[return-value]

    def count(self, mtype: str, src: int, dst: int, rec: z3.ExprRef) -> z3.ArithRef:
        return self.net(mtype, src, dst)[rec]  # type: ignore[return-value]

    def sent(self, mtype: str, src: int, dst: int, rec: z3.ExprRef) -> z3.BoolRef:
        """The message is in flight (at least one copy)."""
        return self.count(mtype, src, dst, rec) >= 1

    def last_term(self, i: int) -> z3.ArithRef:
        return z3.If(self.len(i) > 0, self.log_term(i)[self.len(i)], 0)  # type: ignore[return-value]

    def updated(self, changes: dict[Key, z3.ExprRef]) -> "Sym":
        return Sym(self.n, {**self.vars, **changes})


def state_keys(n: int) -> list[tuple[Key, z3.SortRef]]:
    """Every variable key of an n-server state, with its sort, in a fixed order."""
    out: list[tuple[Key, z3.SortRef]] = []
    for i in range(n):
        out += [
            (("term", i), _I),
            (("role", i), Role),
            (("voted_for", i), _I),
            (("len", i), _I),
            (("log_term", i), z3.ArraySort(_I, _I)),
            (("log_value", i), z3.ArraySort(_I, _I)),
            (("commit", i), _I),
        ]
        for j in range(n):
            out += [(("vr", i, j), _B), (("vg", i, j), _B), (("next", i, j), _I), (("match", i, j), _I)]
    for mtype, sort in RECORDS.items():
        for i in range(n):
            for j in range(n):
                out.append((("net", mtype, i, j), z3.ArraySort(sort, _I)))
    out.append((("inflight",), _I))
    return out


def key_name(prefix: str, key: Key) -> str:
    return prefix + "_" + "_".join(str(k) for k in key)


# ----------------------------------------------------------------- actions


@dataclass(frozen=True)
class Instance:
    """One disjunct of the transition relation: an action with its server arguments.

    For a message action, `mtype`, `src` and `dst` say which messages it takes; the
    message's other fields are the step's record constant for that triple.
    """

    name: ActionName
    args: tuple[int, ...] = ()
    mtype: Optional[str] = None
    src: int = -1
    dst: int = -1

    @property
    def is_message(self) -> bool:
        return self.mtype is not None

    def __str__(self) -> str:
        if self.is_message:
            return f"{self.name}({self.mtype} {self.src}->{self.dst})"
        return f"{self.name}({', '.join(map(str, self.args))})"


@dataclass
class Effect:
    """An instance applied to a pre-state: when it is enabled, and what it changes."""

    guard: z3.BoolRef
    changes: dict[Key, z3.ExprRef]
    added_count: Optional[z3.ArithRef] = None
    """The new count of the message the action sent, if any (for the max_copies bound)."""
    aux: tuple[z3.BoolRef, ...] = ()
    """Definitions of the effect's auxiliary constants (AdvanceCommitIndex's agreed index)."""


class _Tx:
    """A pre-state and the changes an action has made so far."""

    def __init__(self, pre: Sym) -> None:
        self.pre = pre
        self.changes: dict[Key, z3.ExprRef] = {}
        self.added: Optional[z3.ArithRef] = None

    def get(self, key: Key) -> z3.ExprRef:
        return self.changes.get(key, self.pre.vars[key])

    def set(self, key: Key, value: object) -> None:
        self.changes[key] = value if isinstance(value, z3.ExprRef) else _const(value)

    def add_message(self, mtype: str, src: int, dst: int, rec: z3.ExprRef) -> None:
        key = ("net", mtype, src, dst)
        arr = self.get(key)
        old = arr[rec]  # type: ignore[index]
        self.set(key, z3.Store(arr, rec, old + 1))  # type: ignore[arg-type]
        self.set(("inflight",), self.get(("inflight",)) + z3.If(old <= 0, 1, 0))  # type: ignore[operator]
        self.added = old + 1

    def remove_message(self, mtype: str, src: int, dst: int, rec: z3.ExprRef) -> None:
        key = ("net", mtype, src, dst)
        arr = self.get(key)
        old = arr[rec]  # type: ignore[index]
        self.set(key, z3.Store(arr, rec, old - 1))  # type: ignore[arg-type]
        self.set(("inflight",), self.get(("inflight",)) - z3.If(old == 1, 1, 0))  # type: ignore[operator]

    def effect(self, guard: z3.BoolRef, aux: tuple[z3.BoolRef, ...] = ()) -> Effect:
        return Effect(guard, self.changes, self.added, aux)


def _const(value: object) -> z3.ExprRef:
    if isinstance(value, bool):
        return z3.BoolVal(value)
    if isinstance(value, int):
        return z3.IntVal(value)
    raise TypeError(f"no Z3 constant for {value!r}")


class Z3Model:
    """raft.tla's Init, actions and invariants over `Sym` states, for `params.servers` servers.

    `log_bound`: when set, quantifiers over log indexes are expanded over
    1..log_bound (bounded model checking, where every log is that short); when None
    they are Z3 quantifiers (inductive proofs with unbounded logs).
    """

    def __init__(self, params: Params, switches: Switches = Switches(), log_bound: Optional[int] = None) -> None:
        if params.max_entries_per_append != 1:
            raise EncodingError(
                f"max_entries_per_append={params.max_entries_per_append} has no Z3 encoding (only raft.tla's 1)"
            )
        self.params = params
        self.n = params.servers
        self.switches = switches
        self.log_bound = log_bound
        self.servers = tuple(range(self.n))
        self.instances: tuple[Instance, ...] = tuple(self._instances())

    @classmethod
    def for_spec(cls, spec: RaftSpec, log_bound: Optional[int] = None) -> "Z3Model":
        """The model of a spec object (its class picks the switches)."""
        return cls(spec.params, switches_for(type(spec)), log_bound)

    def with_log_bound(self, log_bound: Optional[int]) -> "Z3Model":
        return Z3Model(self.params, self.switches, log_bound)

    # ------------------------------------------------------------ states

    def fresh(self, prefix: str) -> Sym:
        """A state of fresh constants named after `prefix`."""
        return Sym(self.n, {key: z3.Const(key_name(prefix, key), sort) for key, sort in state_keys(self.n)})

    def concrete(self, s: State) -> Sym:
        """A concrete spec state as Z3 values (logs past their length read 0)."""
        n = self.n
        v: dict[Key, z3.ExprRef] = {}
        for i, srv in enumerate(s.servers):
            v[("term", i)] = z3.IntVal(srv.current_term)
            v[("role", i)] = ROLE_OF[srv.role]
            v[("voted_for", i)] = z3.IntVal(NIL_ID if srv.voted_for is None else srv.voted_for)
            v[("len", i)] = z3.IntVal(len(srv.log))
            lt: z3.ExprRef = z3.K(_I, z3.IntVal(0))
            lv: z3.ExprRef = z3.K(_I, z3.IntVal(0))
            for k, e in enumerate(srv.log, start=1):
                lt = z3.Store(lt, k, e.term)  # type: ignore[arg-type]
                lv = z3.Store(lv, k, e.value)  # type: ignore[arg-type]
            v[("log_term", i)] = z3.simplify(lt)
            v[("log_value", i)] = z3.simplify(lv)
            v[("commit", i)] = z3.IntVal(srv.commit_index)
            for j in range(n):
                v[("vr", i, j)] = z3.BoolVal(j in srv.votes_responded)
                v[("vg", i, j)] = z3.BoolVal(j in srv.votes_granted)
                v[("next", i, j)] = z3.IntVal(srv.next_index[j])
                v[("match", i, j)] = z3.IntVal(srv.match_index[j])
        arrays: dict[Key, z3.ExprRef] = {}
        for mtype, sort in RECORDS.items():
            for i in range(n):
                for j in range(n):
                    arrays[("net", mtype, i, j)] = z3.K(sort, z3.IntVal(0))
        for m, count in s.messages:
            key = ("net", m.mtype, m.msource, m.mdest)
            arrays[key] = z3.Store(arrays[key], record_of(m), count)  # type: ignore[arg-type]
        v.update(arrays)
        v[("inflight",)] = z3.IntVal(len(s.messages))
        return Sym(n, v)

    def equals(self, sym: Sym, s: State, *, ghost: bool = True) -> z3.BoolRef:
        """sym is the concrete state s (logs compared up to their length)."""
        c = self.concrete(s)
        eqs: list[z3.BoolRef] = []
        for key, _ in state_keys(self.n):
            if key[0] in ("log_term", "log_value"):
                i = key[1]
                assert isinstance(i, int)  # (kind, server)
                for k in range(1, len(s.servers[i].log) + 1):
                    eqs.append(sym[key][k] == c[key][k])  # type: ignore[index]
            elif key == ("inflight",) and not ghost:
                continue
            else:
                eqs.append(sym[key] == c[key])
        return z3.And(eqs)

    def init(self, sym: Sym) -> z3.BoolRef:
        """raft.tla's Init, with the ghost in-flight count 0."""
        return self.equals(sym, RaftSpec(self.params).init())

    def within_bounds(self, sym: Sym) -> z3.BoolRef:
        """The explorer's state constraint, except max_copies (see `Step.bounds`)."""
        p = self.params
        cs: list[z3.BoolRef] = [sym[("inflight",)] <= p.max_in_flight]  # type: ignore[list-item]
        for i in self.servers:
            cs += [sym.term(i) <= p.max_term, sym.len(i) <= p.max_log]
        return z3.And(cs)

    # ----------------------------------------------------------- helpers

    def is_quorum(self, members: Sequence[z3.BoolRef]) -> z3.BoolRef:
        count = z3.Sum([z3.If(b, 1, 0) for b in members])
        if self.switches.non_majority_quorum:
            return 2 * count >= self.n  # type: ignore[return-value]
        return 2 * count > self.n  # type: ignore[return-value]

    def vote_log_ok(self, pre: Sym, i: int, rec: z3.ExprRef) -> z3.BoolRef:
        if self.switches.vote_without_log_check:
            return z3.BoolVal(True)
        lt = pre.last_term(i)
        mlt, mli = field(rec, "mlast_log_term"), field(rec, "mlast_log_index")
        return z3.Or(mlt > lt, z3.And(mlt == lt, mli >= pre.len(i)))

    def append_log_ok(self, pre: Sym, i: int, rec: z3.ExprRef) -> z3.BoolRef:
        prev = field(rec, "mprev_log_index")
        return z3.Or(prev == 0, z3.And(prev > 0, prev <= pre.len(i), field(rec, "mprev_log_term") == pre.log_term(i)[prev]))

    def forall_index(self, lo: z3.ArithRef | int, hi: z3.ArithRef | int, body: Callable[[z3.ArithRef], z3.BoolRef], name: str = "x") -> z3.BoolRef:
        """For every log index x with lo <= x <= hi: body(x) (expanded when log_bound is set)."""
        if self.log_bound is not None:
            return z3.And([z3.Implies(z3.And(lo <= k, k <= hi), body(z3.IntVal(k))) for k in range(1, self.log_bound + 1)] or [z3.BoolVal(True)])
        x = z3.Int(name)
        return z3.ForAll([x], z3.Implies(z3.And(lo <= x, x <= hi), body(x)))

    # ----------------------------------------------------------- actions

    def _instances(self) -> Iterable[Instance]:
        # The spec's action table (spec/actions.py), in its order: server actions over
        # their argument tuples, then per message type and sender/recipient pair the
        # handlers of that type and the network's actions.
        for row in SERVER_ACTIONS:
            for args in argument_tuples(row, self.servers, range(self.params.values)):
                if row.name is ActionName.AppendEntries and args[0] == args[1]:
                    continue  # never enabled (the spec's guard)
                yield Instance(row.name, args)
        for mtype in MESSAGE_TYPE_NAMES:
            for src in self.servers:
                for dst in self.servers:
                    for row in (*handlers_of(mtype), *NETWORK_ACTIONS):
                        yield Instance(row.name, (), mtype, src, dst)

    def effect(self, inst: Instance, pre: Sym, rec: Optional[z3.ExprRef] = None, tag: str = "") -> Effect:
        """The guard and changes of one instance from `pre` (rec: the message record, for message actions)."""
        tx = _Tx(pre)
        if inst.is_message:
            assert rec is not None
            method = getattr(self, "_" + inst.name)
            return method(tx, inst.mtype, inst.src, inst.dst, rec)  # type: ignore[no-any-return]
        method = getattr(self, "_" + inst.name)
        if inst.name == "AdvanceCommitIndex":
            return method(tx, *inst.args, tag=tag)  # type: ignore[no-any-return]
        return method(tx, *inst.args)  # type: ignore[no-any-return]

    def _Restart(self, tx: _Tx, i: int) -> Effect:
        """Server i restarts from stable storage: it keeps its term, vote and log only."""
        tx.set(("role", i), Z_FOLLOWER)
        tx.set(("commit", i), 0)
        for j in self.servers:
            tx.set(("vr", i, j), False)
            tx.set(("vg", i, j), False)
            tx.set(("next", i, j), 1)
            tx.set(("match", i, j), 0)
        if self.switches.vote_not_persisted:
            tx.set(("voted_for", i), NIL_ID)
        return tx.effect(z3.BoolVal(True))

    def _Timeout(self, tx: _Tx, i: int) -> Effect:
        """Server i times out and starts a new election."""
        pre = tx.pre
        guard = z3.Or(pre.role(i) == Z_FOLLOWER, pre.role(i) == Z_CANDIDATE)
        tx.set(("term", i), pre.term(i) + 1)
        tx.set(("role", i), Z_CANDIDATE)
        tx.set(("voted_for", i), NIL_ID)
        for j in self.servers:
            tx.set(("vr", i, j), False)
            tx.set(("vg", i, j), False)
        return tx.effect(guard)

    def _RequestVote(self, tx: _Tx, i: int, j: int) -> Effect:
        """Candidate i sends j a RequestVote request."""
        pre = tx.pre
        guard = z3.And(pre.role(i) == Z_CANDIDATE, z3.Not(pre.vr(i, j)))
        rec = make_record("RequestVoteRequest", mterm=pre.term(i), mlast_log_term=pre.last_term(i), mlast_log_index=pre.len(i))
        tx.add_message("RequestVoteRequest", i, j, rec)
        return tx.effect(guard)

    def _AppendEntries(self, tx: _Tx, i: int, j: int) -> Effect:
        """Leader i sends j an AppendEntries request with at most one entry."""
        pre = tx.pre
        guard = pre.role(i) == Z_LEADER
        nxt = pre.next(i, j)
        prev = nxt - 1
        prev_term = z3.If(prev > 0, pre.log_term(i)[prev], 0)
        has_entry = pre.len(i) >= nxt
        last_entry = z3.If(pre.len(i) < nxt, pre.len(i), nxt)
        commit = z3.If(pre.commit(i) < last_entry, pre.commit(i), last_entry)
        rec = make_record(
            "AppendEntriesRequest",
            mterm=pre.term(i),
            mprev_log_index=prev,
            mprev_log_term=prev_term,
            mn=z3.If(has_entry, 1, 0),
            mentry_term=z3.If(has_entry, pre.log_term(i)[nxt], 0),
            mentry_value=z3.If(has_entry, pre.log_value(i)[nxt], 0),
            mcommit_index=commit,
        )
        tx.add_message("AppendEntriesRequest", i, j, rec)
        return tx.effect(guard)  # type: ignore[arg-type]

    def _BecomeLeader(self, tx: _Tx, i: int) -> Effect:
        """Candidate i, granted votes by a quorum, becomes leader."""
        pre = tx.pre
        guard = z3.And(pre.role(i) == Z_CANDIDATE, self.is_quorum([pre.vg(i, j) for j in self.servers]))
        tx.set(("role", i), Z_LEADER)
        for j in self.servers:
            tx.set(("next", i, j), pre.len(i) + 1)
            tx.set(("match", i, j), 0)
        return tx.effect(guard)

    def _ClientRequest(self, tx: _Tx, i: int, v: int) -> Effect:
        """Leader i appends value v to its log."""
        pre = tx.pre
        new_len = pre.len(i) + 1
        tx.set(("len", i), new_len)
        tx.set(("log_term", i), z3.Store(pre.log_term(i), new_len, pre.term(i)))
        tx.set(("log_value", i), z3.Store(pre.log_value(i), new_len, v))
        return tx.effect(pre.role(i) == Z_LEADER)  # type: ignore[arg-type]

    def _agrees(self, pre: Sym, i: int, index: z3.ArithRef) -> z3.BoolRef:
        """A quorum (i and the servers whose matchIndex reaches index) holds index."""
        return self.is_quorum([z3.BoolVal(True) if k == i else pre.match(i, k) >= index for k in self.servers])

    def _AdvanceCommitIndex(self, tx: _Tx, i: int, tag: str = "") -> Effect:
        """Leader i commits the highest index a quorum holds, if that entry is from its own term."""
        pre = tx.pre
        # agreed: the highest index in 1..len a quorum holds, 0 if none.  Agreement is
        # monotone in the index, so this is max(agree_indexes).
        agreed = z3.Int(f"agreed{tag}_{i}")
        n_len = pre.len(i)
        define = z3.Or(
            z3.And(agreed == 0, z3.Or(n_len < 1, z3.Not(self._agrees(pre, i, z3.IntVal(1))))),
            z3.And(
                agreed >= 1,
                agreed <= n_len,
                self._agrees(pre, i, agreed),
                z3.Or(agreed == n_len, z3.Not(self._agrees(pre, i, agreed + 1))),
            ),
        )
        ok = agreed >= 1
        if not self.switches.commit_previous_term:
            ok = z3.And(ok, pre.log_term(i)[agreed] == pre.term(i))
        tx.set(("commit", i), z3.If(ok, agreed, pre.commit(i)))
        return tx.effect(pre.role(i) == Z_LEADER, aux=(define,))  # type: ignore[arg-type]

    # ----------------------------------------------------- message handlers
    # i = recipient (dst), j = sender (src).

    def _UpdateTerm(self, tx: _Tx, mtype: str, j: int, i: int, rec: z3.ExprRef) -> Effect:
        """Server i sees a newer term in any message and becomes a follower in it (m stays)."""
        pre = tx.pre
        mterm = field(rec, "mterm")
        guard = z3.And(pre.sent(mtype, j, i, rec), mterm > pre.term(i))
        tx.set(("term", i), mterm)
        tx.set(("role", i), Z_FOLLOWER)
        tx.set(("voted_for", i), NIL_ID)
        return tx.effect(guard)

    def _HandleRequestVoteRequest(self, tx: _Tx, mtype: str, j: int, i: int, rec: z3.ExprRef) -> Effect:
        """Server i answers candidate j's vote request."""
        pre = tx.pre
        mterm = field(rec, "mterm")
        guard = z3.And(pre.sent(mtype, j, i, rec), mterm <= pre.term(i))
        vf = pre.voted_for(i)
        grant = z3.And(mterm == pre.term(i), self.vote_log_ok(pre, i, rec), z3.Or(vf == NIL_ID, vf == j))
        tx.set(("voted_for", i), z3.If(grant, j, vf))
        tx.add_message("RequestVoteResponse", i, j, make_record("RequestVoteResponse", mterm=pre.term(i), mvote_granted=grant))
        tx.remove_message(mtype, j, i, rec)
        return tx.effect(guard)

    def _tally(self, tx: _Tx, i: int, j: int, rec: z3.ExprRef) -> None:
        pre = tx.pre
        tx.set(("vr", i, j), True)
        tx.set(("vg", i, j), z3.Or(pre.vg(i, j), field(rec, "mvote_granted")))

    def _HandleRequestVoteResponse(self, tx: _Tx, mtype: str, j: int, i: int, rec: z3.ExprRef) -> Effect:
        """Server i tallies j's answer to its vote request of the current term."""
        pre = tx.pre
        if mtype != "RequestVoteResponse":
            raise AssertionError(mtype)
        guard = z3.And(pre.sent(mtype, j, i, rec), field(rec, "mterm") == pre.term(i))
        self._tally(tx, i, j, rec)
        tx.remove_message(mtype, j, i, rec)
        return tx.effect(guard)

    def _HandleAppendEntriesRequest(self, tx: _Tx, mtype: str, j: int, i: int, rec: z3.ExprRef) -> Effect:
        """Server i handles leader j's AppendEntries: reject, step down, or accept."""
        pre = tx.pre
        mterm = field(rec, "mterm")
        role = pre.role(i)
        log_ok = self.append_log_ok(pre, i, rec)
        present = z3.And(pre.sent(mtype, j, i, rec), mterm <= pre.term(i))
        reject = z3.Or(mterm < pre.term(i), z3.And(role == Z_FOLLOWER, z3.Not(log_ok)))
        if self.switches.accept_stale_term:
            stale_accept = z3.And(mterm < pre.term(i), role == Z_FOLLOWER, log_ok)
            reject = z3.And(reject, z3.Not(stale_accept))
        step_down = z3.And(z3.Not(reject), role == Z_CANDIDATE)
        accept = z3.And(z3.Not(reject), role == Z_FOLLOWER)
        # accept: done (reply), conflict (drop the last entry), or append.
        prev, mn = field(rec, "mprev_log_index"), field(rec, "mn")
        index = prev + 1
        length = pre.len(i)
        matches = z3.Or(mn == 0, z3.And(length >= index, pre.log_term(i)[index] == field(rec, "mentry_term")))
        done = z3.And(accept, matches)
        conflict = z3.And(accept, z3.Not(matches), length >= index)
        append = z3.And(accept, z3.Not(matches), length == index - 1)
        term = pre.term(i)
        arr_resp = pre.net("AppendEntriesResponse", i, j)
        arr_req = pre.net(mtype, j, i)
        reply = make_record(
            "AppendEntriesResponse",
            mterm=term,
            msuccess=z3.Not(reject),
            mmatch_index=z3.If(reject, 0, prev + mn),
        )
        replies = z3.Or(reject, done)
        sub = _Tx(pre)
        sub.add_message("AppendEntriesResponse", i, j, reply)
        sub.remove_message(mtype, j, i, rec)
        tx.set(("net", "AppendEntriesResponse", i, j), z3.If(replies, sub.changes[("net", "AppendEntriesResponse", i, j)], arr_resp))
        tx.set(("net", mtype, j, i), z3.If(replies, sub.changes[("net", mtype, j, i)], arr_req))
        tx.set(("inflight",), z3.If(replies, sub.changes[("inflight",)], pre[("inflight",)]))
        tx.added = z3.If(replies, sub.added, 0)  # type: ignore[assignment]
        tx.set(("role", i), z3.If(step_down, Z_FOLLOWER, role))
        tx.set(("commit", i), z3.If(done, field(rec, "mcommit_index"), pre.commit(i)))
        tx.set(("len", i), z3.If(conflict, length - 1, z3.If(append, length + 1, length)))
        tx.set(("log_term", i), z3.If(append, z3.Store(pre.log_term(i), index, field(rec, "mentry_term")), pre.log_term(i)))
        tx.set(("log_value", i), z3.If(append, z3.Store(pre.log_value(i), index, field(rec, "mentry_value")), pre.log_value(i)))
        guard = z3.And(present, z3.Or(reject, step_down, done, conflict, append))
        return tx.effect(guard)

    def _HandleAppendEntriesResponse(self, tx: _Tx, mtype: str, j: int, i: int, rec: z3.ExprRef) -> Effect:
        """Server i records j's answer to its AppendEntries request of the current term."""
        pre = tx.pre
        guard = z3.And(pre.sent(mtype, j, i, rec), field(rec, "mterm") == pre.term(i))
        success, mm = field(rec, "msuccess"), field(rec, "mmatch_index")
        nxt = pre.next(i, j)
        tx.set(("next", i, j), z3.If(success, mm + 1, z3.If(nxt - 1 > 1, nxt - 1, 1)))
        tx.set(("match", i, j), z3.If(success, mm, pre.match(i, j)))
        tx.remove_message(mtype, j, i, rec)
        return tx.effect(guard)

    def _DropStaleResponse(self, tx: _Tx, mtype: str, j: int, i: int, rec: z3.ExprRef) -> Effect:
        """Server i discards a response from an older term."""
        pre = tx.pre
        guard = z3.And(pre.sent(mtype, j, i, rec), field(rec, "mterm") < pre.term(i))
        if self.switches.stale_vote_counted and mtype == "RequestVoteResponse":
            self._tally(tx, i, j, rec)
        tx.remove_message(mtype, j, i, rec)
        return tx.effect(guard)

    def _DuplicateMessage(self, tx: _Tx, mtype: str, j: int, i: int, rec: z3.ExprRef) -> Effect:
        """The network duplicates message m."""
        guard = tx.pre.sent(mtype, j, i, rec)
        tx.add_message(mtype, j, i, rec)
        return tx.effect(guard)

    def _DropMessage(self, tx: _Tx, mtype: str, j: int, i: int, rec: z3.ExprRef) -> Effect:
        """The network loses message m."""
        guard = tx.pre.sent(mtype, j, i, rec)
        tx.remove_message(mtype, j, i, rec)
        return tx.effect(guard)

    # -------------------------------------------------------- the relation

    def transition(self, pre: Sym, tag: str, instances: Optional[Sequence[Instance]] = None) -> "Step":
        """The transition relation from pre as a function: `enabled` and the successor's terms.

        The successor is an if-then-else over the step's `choice`, so it is determined
        by the pre-state, the choice and the message; AdvanceCommitIndex's agreed index
        is defined functionally by its `aux` constraint (a test checks it is unique).
        """
        insts = tuple(self.instances if instances is None else instances)
        choice = z3.Int(f"choice{tag}")
        messages = {
            (mtype, src, dst): z3.Const(f"msg{tag}_{mtype}_{src}_{dst}", RECORDS[mtype])
            for mtype in MESSAGE_TYPE_NAMES
            for src in self.servers
            for dst in self.servers
        }
        effects: list[Effect] = []
        for k, inst in enumerate(insts):
            rec = messages[(inst.mtype, inst.src, inst.dst)] if inst.is_message else None  # type: ignore[index]
            effects.append(self.effect(inst, pre, rec, tag=f"{tag}_{k}"))
        enabled = z3.Or([z3.And(choice == k, e.guard, *e.aux) for k, e in enumerate(effects)])
        post: dict[Key, z3.ExprRef] = {}
        for key, _ in state_keys(self.n):
            value = pre[key]
            for k, e in enumerate(effects):
                if key in e.changes:
                    value = z3.If(choice == k, e.changes[key], value)
            post[key] = value
        added = [z3.Implies(choice == k, e.added_count <= self.params.max_copies) for k, e in enumerate(effects) if e.added_count is not None]
        return Step(insts, choice, messages, enabled, Sym(self.n, post), z3.And(added) if added else z3.BoolVal(True))

    def step(self, pre: Sym, post: Sym, tag: str, instances: Optional[Sequence[Instance]] = None) -> "Step":
        """The transition relation between two states of constants (for unrolling)."""
        st = self.transition(pre, tag, instances)
        eqs = [post[key] == st.post[key] for key, _ in state_keys(self.n)]
        st.relation = z3.And(st.enabled, *eqs)
        st.post = post
        return st

    def post_state(self, pre: Sym, inst: Instance, rec: Optional[z3.ExprRef] = None, tag: str = "") -> tuple[Effect, Sym]:
        """One instance applied to pre by substitution (no post-state constants)."""
        e = self.effect(inst, pre, rec, tag)
        return e, pre.updated(e.changes)


@dataclass
class Step:
    """One step of the transition relation between two symbolic states."""

    instances: tuple[Instance, ...]
    choice: z3.ArithRef
    messages: dict[tuple[str, int, int], z3.ExprRef]
    enabled: z3.BoolRef
    """Some instance is enabled and chosen (with its auxiliary definitions)."""
    post: Sym
    """The successor: terms over the pre-state (from `transition`) or constants (from `step`)."""
    copies_bound: z3.BoolRef
    """The max_copies part of the state constraint for the post-state (given a pre-state within it)."""
    relation: z3.BoolRef = z3.BoolVal(True)
    """For `step`: enabled, and the post-state's constants equal the successor's terms."""
    """The max_copies part of the state constraint for the post-state (given a pre-state within it)."""


def with_switches(model: Z3Model, **changes: bool) -> Z3Model:
    """A copy of the model with some switches changed."""
    return Z3Model(model.params, replace(model.switches, **changes), model.log_bound)


SWITCH_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Switches))
