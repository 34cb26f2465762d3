"""The spec for every number of servers: `Server` an uninterpreted sort, quorums a sort with membership.

How this works: where `checker/z3/model.py` has one constant per server (or pair)
and a fixed number of them, here each raft.tla variable is one Z3 function over
the uninterpreted sort `Server`: `term(i)`, `role(i)`, `voted(i)` (a datatype:
`nil` or `vote(j)`), the log as `length(i)` and `log_term(i, x)`,
`votes_granted(i, j)`, ..., and the bag as `net_<type>(src, dst, record)`, a count
(records as in the fixed-size encoding: the message's fields but its source and
destination).  Functions rather than arrays: Z3's model-based quantifier
instantiation finds counterexamples over uninterpreted functions, and gave up
("incomplete quantifiers") on the same queries over arrays of arrays.  A
post-state is the pre-state's functions with the action's changes as
if-then-else around them (`_Tx`), so it has no constants of its own.
Quorums are the sort `Quorum` with `member(s, q)`; "S is a quorum" is "S holds
every member of some quorum", and the one fact about quorums is the axiom that
any two of them share a member (`quorum_axiom`).  A state is therefore a model
of any size, finite or not, with any intersecting quorum system: the majorities
of N servers for every N are among them, so what is proved here holds for each.

An action instance is an action with symbolic server arguments (constants of the
sort), so one instance stands for every choice of servers; the message handlers
take a symbolic record as in the fixed-size encoding.  Each instance maps a
pre-state to a guard and the changed functions.
The methods follow `spec/raft.py` one for one, as `model.py` does;
`tests/test_parametric.py` checks the two agree on concrete states (a finite
universe of N servers and the majority quorums as the interpretation).

Broken variants map to the same `Switches` as the fixed-size encoding; for
`non_majority_quorum` the intersection axiom is left out (quorums of "half or
more" of an even number of servers need not intersect).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional

import z3

from leaderfollower.spec.actions import NETWORK_ACTIONS, SERVER_ACTIONS, ActionName, ArgKind, action_def, handlers_of

from leaderfollower.checker.z3.model import MESSAGE_TYPE_NAMES, RECORDS, Role, Switches, Z_CANDIDATE, Z_FOLLOWER, Z_LEADER, make_record
from leaderfollower.checker.z3.model import field as rfield

if TYPE_CHECKING:
    from leaderfollower.spec.state import State

Server = z3.DeclareSort("Server")
Quorum = z3.DeclareSort("Quorum")
member = z3.Function("member", Server, Quorum, z3.BoolSort())
"""member(s, q): server s belongs to quorum q."""

_vote = z3.Datatype("Vote")
_vote.declare("nil")
_vote.declare("vote", ("of", Server))
Vote = _vote.create()
NIL = Vote.nil
"""votedFor = Nil."""

_I, _B = z3.IntSort(), z3.BoolSort()

VARIABLES: dict[str, tuple[z3.SortRef, ...]] = {
    "term": (Server, _I),
    "role": (Server, Role),
    "voted": (Server, Vote),
    "length": (Server, _I),
    "log_term": (Server, _I, _I),
    "log_value": (Server, _I, _I),
    "commit": (Server, _I),
    "vr": (Server, Server, _B),
    "vg": (Server, Server, _B),
    "next": (Server, Server, _I),
    "match": (Server, Server, _I),
    **{f"net_{m}": (Server, Server, RECORDS[m], _I) for m in MESSAGE_TYPE_NAMES},
}
"""Every state variable: its argument sorts and its value's sort (the last)."""

Reader = Callable[..., z3.ExprRef]
"""A state variable as a function of its arguments: a Z3 function, or an if-then-else around one."""


def quorum_axiom() -> z3.BoolRef:
    """Any two quorums share a member."""
    q1, q2 = z3.Consts("q1 q2", Quorum)
    s = z3.Const("s", Server)
    return z3.ForAll([q1, q2], z3.Exists([s], z3.And(member(s, q1), member(s, q2))))


def is_quorum(holds: Callable[[z3.ExprRef], z3.BoolRef], name: str = "q") -> z3.BoolRef:
    """The servers for which `holds` is true include every member of some quorum."""
    q = z3.Const(name, Quorum)
    s = z3.Const(f"{name}_s", Server)
    return z3.Exists([q], z3.ForAll([s], z3.Implies(member(s, q), holds(s))))


class PSym:
    """A symbolic state of any number of servers: one function per variable."""

    def __init__(self, fns: dict[str, Reader], base: Optional["PSym"] = None) -> None:
        self.fns = fns
        self.base = base if base is not None else self
        """The state of plain functions this one is an update of (itself for a fresh state)."""
        self.touched: list[tuple[str, z3.ExprRef]] = []
        """(message type, record) of every message the step leading here added or removed (for decoding)."""

    def __getitem__(self, name: str) -> Reader:
        return self.fns[name]

    def term(self, i: z3.ExprRef) -> z3.ArithRef:
        return self.fns["term"](i)  # type: ignore[return-value]

    def role(self, i: z3.ExprRef) -> z3.ExprRef:
        return self.fns["role"](i)

    def voted(self, i: z3.ExprRef) -> z3.ExprRef:
        return self.fns["voted"](i)

    def len(self, i: z3.ExprRef) -> z3.ArithRef:
        return self.fns["length"](i)  # type: ignore[return-value]

    def log_term(self, i: z3.ExprRef, x: z3.ArithRef) -> z3.ArithRef:
        return self.fns["log_term"](i, x)  # type: ignore[return-value]

    def log_value(self, i: z3.ExprRef, x: z3.ArithRef) -> z3.ArithRef:
        return self.fns["log_value"](i, x)  # type: ignore[return-value]

    def commit(self, i: z3.ExprRef) -> z3.ArithRef:
        return self.fns["commit"](i)  # type: ignore[return-value]

    def vr(self, i: z3.ExprRef, j: z3.ExprRef) -> z3.BoolRef:
        return self.fns["vr"](i, j)  # type: ignore[return-value]

    def vg(self, i: z3.ExprRef, j: z3.ExprRef) -> z3.BoolRef:
        return self.fns["vg"](i, j)  # type: ignore[return-value]

    def next(self, i: z3.ExprRef, j: z3.ExprRef) -> z3.ArithRef:
        return self.fns["next"](i, j)  # type: ignore[return-value]

    def match(self, i: z3.ExprRef, j: z3.ExprRef) -> z3.ArithRef:
        return self.fns["match"](i, j)  # type: ignore[return-value]

    def count(self, mtype: str, src: z3.ExprRef, dst: z3.ExprRef, rec: z3.ExprRef) -> z3.ArithRef:
        return self.fns[f"net_{mtype}"](src, dst, rec)  # type: ignore[return-value]

    def sent(self, mtype: str, src: z3.ExprRef, dst: z3.ExprRef, rec: z3.ExprRef) -> z3.BoolRef:
        """The message is in flight (at least one copy)."""
        return self.count(mtype, src, dst, rec) >= 1

    def last_term(self, i: z3.ExprRef) -> z3.ArithRef:
        return z3.If(self.len(i) > 0, self.log_term(i, self.len(i)), 0)  # type: ignore[return-value]

    def campaigning(self, i: z3.ExprRef) -> z3.BoolRef:
        """i is a candidate or a leader."""
        return z3.Or(self.role(i) == Z_CANDIDATE, self.role(i) == Z_LEADER)


def fresh(prefix: str) -> PSym:
    """A state of fresh functions."""
    return PSym({name: z3.Function(f"{prefix}_{name}", *sorts) for name, sorts in VARIABLES.items()})


# ----------------------------------------------------------------- actions


@dataclass(frozen=True)
class PInstance:
    """An action with symbolic arguments: server constants, and for a handler the message type."""

    name: ActionName
    mtype: Optional[str] = None

    @property
    def is_message(self) -> bool:
        return self.mtype is not None

    def __str__(self) -> str:
        return f"{self.name}({self.mtype})" if self.mtype else self.name


@dataclass
class PEffect:
    """An instance applied to a pre-state: its arguments and when it is enabled."""

    args: tuple[z3.ExprRef, ...]
    guard: z3.BoolRef
    aux: tuple[z3.BoolRef, ...] = ()
    """Definitions of auxiliary constants (AdvanceCommitIndex's agreed index)."""


class _Tx:
    """A pre-state and the functions an action has changed so far (if-then-else at the action's arguments)."""

    def __init__(self, pre: PSym) -> None:
        self.pre = pre
        self.changes: dict[str, Reader] = {}
        self.touched: list[tuple[str, z3.ExprRef]] = []

    def get(self, name: str) -> Reader:
        return self.changes.get(name, self.pre[name])

    def put(self, name: str, i: z3.ExprRef, value: object) -> None:
        """variable(i) := value."""
        old = self.get(name)
        self.changes[name] = lambda s: z3.If(s == i, value, old(s))

    def put_row(self, name: str, i: z3.ExprRef, value: object) -> None:
        """variable(i, j) := value for every j."""
        old = self.get(name)
        self.changes[name] = lambda s, j: z3.If(s == i, value, old(s, j))

    def put2(self, name: str, i: z3.ExprRef, j: z3.ExprRef, value: object, when: object = True) -> None:
        """variable(i, j) := value (only `when` it holds: a conditional update)."""
        old = self.get(name)
        self.changes[name] = lambda s, t: z3.If(z3.And(when, s == i, t == j), value, old(s, t))

    def add_message(self, mtype: str, src: z3.ExprRef, dst: z3.ExprRef, rec: z3.ExprRef, delta: int = 1, when: object = True) -> None:
        """One more copy of the message in flight (`delta` -1: one fewer), `when` it holds."""
        name = f"net_{mtype}"
        old = self.get(name)
        self.changes[name] = lambda s, d, r: old(s, d, r) + z3.If(z3.And(when, s == src, d == dst, r == rec), delta, 0)
        self.touched.append((mtype, rec))

    def remove_message(self, mtype: str, src: z3.ExprRef, dst: z3.ExprRef, rec: z3.ExprRef, when: object = True) -> None:
        self.add_message(mtype, src, dst, rec, -1, when)

    def post(self) -> PSym:
        out = PSym({**self.pre.fns, **self.changes}, self.pre.base)
        out.touched = list(self.touched)
        return out




class ParametricModel:
    """raft.tla's actions over `PSym` states, for any number of servers and any intersecting quorums."""

    def __init__(self, switches: Switches = Switches(), values: int = 1) -> None:
        self.switches = switches
        self.values = values
        self.instances: tuple[PInstance, ...] = tuple(self._instances())

    def axioms(self) -> list[z3.BoolRef]:
        """What every state assumes about quorums: they intersect (not for the non-majority variant)."""
        return [] if self.switches.non_majority_quorum else [quorum_axiom()]

    @staticmethod
    def _instances() -> list[PInstance]:
        # The spec's action table (spec/actions.py), in its order; a handler per message type it takes.
        out = [PInstance(row.name) for row in SERVER_ACTIONS]
        for mtype in MESSAGE_TYPE_NAMES:
            out += [PInstance(row.name, mtype) for row in (*handlers_of(mtype), *NETWORK_ACTIONS)]
        return out

    def post_state(self, pre: PSym, inst: PInstance, tag: str = "") -> tuple[PEffect, PSym]:
        """The instance applied to pre, with fresh argument constants named after `tag`: its effect and the post-state."""
        tx = _Tx(pre)
        if inst.mtype is not None:
            j, i = z3.Const(f"src{tag}", Server), z3.Const(f"dst{tag}", Server)
            rec = z3.Const(f"msg{tag}", RECORDS[inst.mtype])
            guard, aux = getattr(self, "_" + inst.name)(tx, inst.mtype, j, i, rec)
            return PEffect((j, i, rec), guard, aux), tx.post()
        arity = action_def(inst.name).args.count(ArgKind.SERVER)
        servers = tuple(z3.Const(f"s{k}{tag}", Server) for k in range(arity))
        extra: tuple[z3.ExprRef, ...] = ()
        if inst.name == "ClientRequest":
            extra = (z3.Int(f"v{tag}"),)
        elif inst.name == "AdvanceCommitIndex":
            extra = (z3.Int(f"agreed{tag}"),)
        guard, aux = getattr(self, "_" + inst.name)(tx, *servers, *extra)
        return PEffect(servers + extra, guard, aux), tx.post()

    # ------------------------------------------------------ server actions

    Result = tuple[z3.BoolRef, tuple[z3.BoolRef, ...]]

    def _Restart(self, tx: _Tx, i: z3.ExprRef) -> "ParametricModel.Result":
        """Server i restarts from stable storage: it keeps its term, vote and log only."""
        tx.put("role", i, Z_FOLLOWER)
        tx.put("commit", i, 0)
        tx.put_row("vr", i, False)
        tx.put_row("vg", i, False)
        tx.put_row("next", i, 1)
        tx.put_row("match", i, 0)
        if self.switches.vote_not_persisted:
            tx.put("voted", i, NIL)
        return z3.BoolVal(True), ()

    def _Timeout(self, tx: _Tx, i: z3.ExprRef) -> "ParametricModel.Result":
        """Server i times out and starts a new election."""
        pre = tx.pre
        tx.put("term", i, pre.term(i) + 1)
        tx.put("role", i, Z_CANDIDATE)
        tx.put("voted", i, NIL)
        tx.put_row("vr", i, False)
        tx.put_row("vg", i, False)
        return z3.Or(pre.role(i) == Z_FOLLOWER, pre.role(i) == Z_CANDIDATE), ()

    def _RequestVote(self, tx: _Tx, i: z3.ExprRef, j: z3.ExprRef) -> "ParametricModel.Result":
        """Candidate i sends j a RequestVote request."""
        pre = tx.pre
        rec = make_record("RequestVoteRequest", mterm=pre.term(i), mlast_log_term=pre.last_term(i), mlast_log_index=pre.len(i))
        tx.add_message("RequestVoteRequest", i, j, rec)
        return z3.And(pre.role(i) == Z_CANDIDATE, z3.Not(pre.vr(i, j))), ()

    def _AppendEntries(self, tx: _Tx, i: z3.ExprRef, j: z3.ExprRef) -> "ParametricModel.Result":
        """Leader i sends j an AppendEntries request with at most one entry."""
        pre = tx.pre
        nxt = pre.next(i, j)
        prev = nxt - 1
        has_entry = pre.len(i) >= nxt
        last_entry = z3.If(pre.len(i) < nxt, pre.len(i), nxt)
        rec = make_record(
            "AppendEntriesRequest",
            mterm=pre.term(i),
            mprev_log_index=prev,
            mprev_log_term=z3.If(prev > 0, pre.log_term(i, prev), 0),
            mn=z3.If(has_entry, 1, 0),
            mentry_term=z3.If(has_entry, pre.log_term(i, nxt), 0),
            mentry_value=z3.If(has_entry, pre.log_value(i, nxt), 0),
            mcommit_index=z3.If(pre.commit(i) < last_entry, pre.commit(i), last_entry),
        )
        tx.add_message("AppendEntriesRequest", i, j, rec)
        return z3.And(pre.role(i) == Z_LEADER, i != j), ()

    def _BecomeLeader(self, tx: _Tx, i: z3.ExprRef) -> "ParametricModel.Result":
        """Candidate i, granted votes by a quorum, becomes leader."""
        pre = tx.pre
        tx.put("role", i, Z_LEADER)
        tx.put_row("next", i, pre.len(i) + 1)
        tx.put_row("match", i, 0)
        return z3.And(pre.role(i) == Z_CANDIDATE, is_quorum(lambda j: pre.vg(i, j), "bq")), ()

    def _ClientRequest(self, tx: _Tx, i: z3.ExprRef, v: z3.ArithRef) -> "ParametricModel.Result":
        """Leader i appends value v to its log."""
        pre = tx.pre
        new_len = pre.len(i) + 1
        tx.put("length", i, new_len)
        tx.put2("log_term", i, new_len, pre.term(i))
        tx.put2("log_value", i, new_len, v)
        return z3.And(pre.role(i) == Z_LEADER, 0 <= v, v < self.values), ()

    def agrees(self, pre: PSym, i: z3.ExprRef, index: z3.ArithRef, name: str) -> z3.BoolRef:
        """A quorum (i and the servers whose matchIndex reaches index) holds index."""
        return is_quorum(lambda k: z3.Or(k == i, pre.match(i, k) >= index), name)

    def _AdvanceCommitIndex(self, tx: _Tx, i: z3.ExprRef, agreed: z3.ArithRef) -> "ParametricModel.Result":
        """Leader i commits the highest index a quorum holds, if that entry is from its own term."""
        pre = tx.pre
        n_len = pre.len(i)
        define = z3.Or(
            z3.And(agreed == 0, z3.Or(n_len < 1, z3.Not(self.agrees(pre, i, z3.IntVal(1), "aq1")))),
            z3.And(
                agreed >= 1,
                agreed <= n_len,
                self.agrees(pre, i, agreed, "aq2"),
                z3.Or(agreed == n_len, z3.Not(self.agrees(pre, i, agreed + 1, "aq3"))),
            ),
        )
        ok = agreed >= 1
        if not self.switches.commit_previous_term:
            ok = z3.And(ok, pre.log_term(i, agreed) == pre.term(i))
        tx.put("commit", i, z3.If(ok, agreed, pre.commit(i)))
        return pre.role(i) == Z_LEADER, (define,)  # type: ignore[return-value]

    # ----------------------------------------------------- message handlers
    # i = recipient (dst), j = sender (src).

    def _UpdateTerm(self, tx: _Tx, mtype: str, j: z3.ExprRef, i: z3.ExprRef, rec: z3.ExprRef) -> "ParametricModel.Result":
        """Server i sees a newer term in any message and becomes a follower in it (m stays)."""
        pre = tx.pre
        mterm = rfield(rec, "mterm")
        tx.put("term", i, mterm)
        tx.put("role", i, Z_FOLLOWER)
        tx.put("voted", i, NIL)
        return z3.And(pre.sent(mtype, j, i, rec), mterm > pre.term(i)), ()

    def _HandleRequestVoteRequest(self, tx: _Tx, mtype: str, j: z3.ExprRef, i: z3.ExprRef, rec: z3.ExprRef) -> "ParametricModel.Result":
        """Server i answers candidate j's vote request."""
        pre = tx.pre
        mterm = rfield(rec, "mterm")
        vf = pre.voted(i)
        grant = z3.And(mterm == pre.term(i), self.vote_log_ok(pre, i, rec), z3.Or(vf == NIL, vf == Vote.vote(j)))
        tx.put("voted", i, z3.If(grant, Vote.vote(j), vf))
        tx.add_message("RequestVoteResponse", i, j, make_record("RequestVoteResponse", mterm=pre.term(i), mvote_granted=grant))
        tx.remove_message(mtype, j, i, rec)
        return z3.And(pre.sent(mtype, j, i, rec), mterm <= pre.term(i)), ()

    def _tally(self, tx: _Tx, i: z3.ExprRef, j: z3.ExprRef, rec: z3.ExprRef) -> None:
        tx.put2("vr", i, j, True)
        tx.put2("vg", i, j, z3.Or(tx.pre.vg(i, j), rfield(rec, "mvote_granted")))

    def _HandleRequestVoteResponse(self, tx: _Tx, mtype: str, j: z3.ExprRef, i: z3.ExprRef, rec: z3.ExprRef) -> "ParametricModel.Result":
        """Server i tallies j's answer to its vote request of the current term."""
        pre = tx.pre
        self._tally(tx, i, j, rec)
        tx.remove_message(mtype, j, i, rec)
        return z3.And(pre.sent(mtype, j, i, rec), rfield(rec, "mterm") == pre.term(i)), ()

    def _HandleAppendEntriesRequest(self, tx: _Tx, mtype: str, j: z3.ExprRef, i: z3.ExprRef, rec: z3.ExprRef) -> "ParametricModel.Result":
        """Server i handles leader j's AppendEntries: reject, step down, or accept."""
        pre = tx.pre
        mterm, role, length = rfield(rec, "mterm"), pre.role(i), pre.len(i)
        log_ok = self.append_log_ok(pre, i, rec)
        reject = z3.Or(mterm < pre.term(i), z3.And(role == Z_FOLLOWER, z3.Not(log_ok)))
        if self.switches.accept_stale_term:
            reject = z3.And(reject, z3.Not(z3.And(mterm < pre.term(i), role == Z_FOLLOWER, log_ok)))
        step_down = z3.And(z3.Not(reject), role == Z_CANDIDATE)
        accept = z3.And(z3.Not(reject), role == Z_FOLLOWER)
        prev, mn = rfield(rec, "mprev_log_index"), rfield(rec, "mn")
        index = prev + 1
        matches = z3.Or(mn == 0, z3.And(length >= index, pre.log_term(i, index) == rfield(rec, "mentry_term")))
        done = z3.And(accept, matches)
        conflict = z3.And(accept, z3.Not(matches), length >= index)
        append = z3.And(accept, z3.Not(matches), length == index - 1)
        replies = z3.Or(reject, done)
        reply = make_record("AppendEntriesResponse", mterm=pre.term(i), msuccess=z3.Not(reject), mmatch_index=z3.If(reject, 0, prev + mn))
        tx.add_message("AppendEntriesResponse", i, j, reply, when=replies)
        tx.remove_message(mtype, j, i, rec, when=replies)
        tx.put("role", i, z3.If(step_down, Z_FOLLOWER, role))
        tx.put("commit", i, z3.If(done, rfield(rec, "mcommit_index"), pre.commit(i)))
        tx.put("length", i, z3.If(conflict, length - 1, z3.If(append, length + 1, length)))
        tx.put2("log_term", i, index, rfield(rec, "mentry_term"), when=append)
        tx.put2("log_value", i, index, rfield(rec, "mentry_value"), when=append)
        present = z3.And(pre.sent(mtype, j, i, rec), mterm <= pre.term(i))
        return z3.And(present, z3.Or(reject, step_down, done, conflict, append)), ()

    def _HandleAppendEntriesResponse(self, tx: _Tx, mtype: str, j: z3.ExprRef, i: z3.ExprRef, rec: z3.ExprRef) -> "ParametricModel.Result":
        """Server i records j's answer to its AppendEntries request of the current term."""
        pre = tx.pre
        success, mm = rfield(rec, "msuccess"), rfield(rec, "mmatch_index")
        nxt = pre.next(i, j)
        tx.put2("next", i, j, z3.If(success, mm + 1, z3.If(nxt - 1 > 1, nxt - 1, 1)))
        tx.put2("match", i, j, z3.If(success, mm, pre.match(i, j)))
        tx.remove_message(mtype, j, i, rec)
        return z3.And(pre.sent(mtype, j, i, rec), rfield(rec, "mterm") == pre.term(i)), ()

    def _DropStaleResponse(self, tx: _Tx, mtype: str, j: z3.ExprRef, i: z3.ExprRef, rec: z3.ExprRef) -> "ParametricModel.Result":
        """Server i discards a response from an older term."""
        pre = tx.pre
        if self.switches.stale_vote_counted and mtype == "RequestVoteResponse":
            self._tally(tx, i, j, rec)
        tx.remove_message(mtype, j, i, rec)
        return z3.And(pre.sent(mtype, j, i, rec), rfield(rec, "mterm") < pre.term(i)), ()

    def _DuplicateMessage(self, tx: _Tx, mtype: str, j: z3.ExprRef, i: z3.ExprRef, rec: z3.ExprRef) -> "ParametricModel.Result":
        """The network duplicates message m."""
        tx.add_message(mtype, j, i, rec)
        return tx.pre.sent(mtype, j, i, rec), ()

    def _DropMessage(self, tx: _Tx, mtype: str, j: z3.ExprRef, i: z3.ExprRef, rec: z3.ExprRef) -> "ParametricModel.Result":
        """The network loses message m."""
        tx.remove_message(mtype, j, i, rec)
        return tx.pre.sent(mtype, j, i, rec), ()

    # ----------------------------------------------------------- helpers

    def vote_log_ok(self, pre: PSym, i: z3.ExprRef, rec: z3.ExprRef) -> z3.BoolRef:
        if self.switches.vote_without_log_check:
            return z3.BoolVal(True)
        lt = pre.last_term(i)
        mlt, mli = rfield(rec, "mlast_log_term"), rfield(rec, "mlast_log_index")
        return z3.Or(mlt > lt, z3.And(mlt == lt, mli >= pre.len(i)))

    def append_log_ok(self, pre: PSym, i: z3.ExprRef, rec: z3.ExprRef) -> z3.BoolRef:
        prev = rfield(rec, "mprev_log_index")
        return z3.Or(prev == 0, z3.And(prev > 0, prev <= pre.len(i), rfield(rec, "mprev_log_term") == pre.log_term(i, prev)))

    def init(self, s: PSym) -> z3.BoolRef:
        """raft.tla's Init: every server a follower in term 1 with nothing, no message in flight."""
        i, j = z3.Consts("init_i init_j", Server)
        # One quantifier per variable: each has the variable's own read as its trigger.
        per_server = [s.term(i) == 1, s.role(i) == Z_FOLLOWER, s.voted(i) == NIL, s.len(i) == 0, s.commit(i) == 0]
        per_pair = [z3.Not(s.vr(i, j)), z3.Not(s.vg(i, j)), s.next(i, j) == 1, s.match(i, j) == 0]
        out = [z3.ForAll([i], c) for c in per_server] + [z3.ForAll([i, j], c) for c in per_pair]
        for m in MESSAGE_TYPE_NAMES:
            r = z3.Const("init_r", RECORDS[m])
            out.append(z3.ForAll([i, j, r], s.count(m, i, j, r) == 0))
        return z3.And(out)


# ------------------------------------------------------------ concrete states


def servers_of_size(n: int) -> list[z3.ExprRef]:
    """The constants S0..S(n-1) that stand for the servers of a concrete state."""
    return [z3.Const(f"S{k}", Server) for k in range(n)]


def pin(s: PSym, state: "State") -> list[z3.BoolRef]:
    """Constraints making `s` the concrete state (servers `servers_of_size(n)`, which must be all the servers).

    The quorums are left to the caller (`prove.finite_size` gives a spec's own).
    """
    from leaderfollower.checker.z3.model import ROLE_OF, record_of

    servers = servers_of_size(len(state.servers))
    out: list[z3.BoolRef] = []
    for i, srv in zip(servers, state.servers):
        vote = NIL if srv.voted_for is None else Vote.vote(servers[srv.voted_for])
        out += [s.term(i) == srv.current_term, s.role(i) == ROLE_OF[srv.role], s.voted(i) == vote]
        out += [s.len(i) == len(srv.log), s.commit(i) == srv.commit_index]
        for x, e in enumerate(srv.log, start=1):
            out += [s.log_term(i, z3.IntVal(x)) == e.term, s.log_value(i, z3.IntVal(x)) == e.value]
        for k, j in enumerate(servers):
            out += [s.vr(i, j) == (k in srv.votes_responded), s.vg(i, j) == (k in srv.votes_granted)]
            out += [s.next(i, j) == srv.next_index[k], s.match(i, j) == srv.match_index[k]]
    for mtype in MESSAGE_TYPE_NAMES:
        src, dst = z3.Consts("pin_src pin_dst", Server)
        r = z3.Const("pin_r", RECORDS[mtype])
        count: z3.ArithRef = z3.IntVal(0)
        for m, c in state.messages:
            if m.mtype == mtype:
                here = z3.And(src == servers[m.msource], dst == servers[m.mdest], r == record_of(m))
                count = z3.If(here, c, count)  # type: ignore[assignment]
        out.append(z3.ForAll([src, dst, r], s.count(mtype, src, dst, r) == count))
    return out
