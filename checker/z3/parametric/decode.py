"""A parametric counterexample to induction as spec states: the model's servers numbered 0..N-1.

How this works: Z3's model of a satisfiable parametric query interprets `Server`
and `Quorum` as finite sets (the universes).  The servers are numbered in the
universe's order; every array is read at those elements, the message arrays with
the fixed-size decoder (`checker/z3/decode.py`), and the quorum system is read
from `member` and printed beside the counterexample, since it need not be the
majorities (the proof is for every intersecting quorum system).
"""
from __future__ import annotations

from typing import Optional, Sequence

import z3

from leaderfollower.checker.z3.decode import DecodeError, _bool, _int, decode_message
from leaderfollower.checker.z3.model import MESSAGE_TYPE_NAMES
from leaderfollower.checker.z3.parametric.model import PEffect, PInstance, PSym, Quorum, Server, Vote, member
from leaderfollower.checker.z3.results import Cti
from leaderfollower.spec.actions import Action
from leaderfollower.spec.state import NIL, ROLES, Entry, Message, ServerState, State


def decode_cti(
    m: z3.ModelRef, pre: PSym, inst: PInstance, eff: PEffect, post: PSym, slots: Optional[dict[str, list[z3.ExprRef]]] = None
) -> Cti:
    """The counterexample's two states and action at the model's size, with its quorums in the note.

    `slots`: the only records the model's bags hold (`prove.finite_bag`); without
    them the bags are read from the model's tables.
    """
    servers = list(m.get_universe(Server) or [])
    try:
        if not servers:
            raise DecodeError("the model has no servers")
        before, after = _state(m, pre, servers, slots), _state(m, post, servers, slots)
        action = _action(m, inst, eff, servers)
    except DecodeError as exc:
        return Cti(State((), ()), Action(inst.name, ()), State((), ()), None, f"not decodable: {exc}")
    return Cti(before, action, after, None, f"{len(servers)} servers; quorums {_quorums(m, servers)}")


def _quorums(m: z3.ModelRef, servers: Sequence[z3.ExprRef]) -> str:
    out = []
    for q in m.get_universe(Quorum) or []:
        members = [k for k, s in enumerate(servers) if _bool(m, member(s, q))]
        out.append("{" + ", ".join(map(str, members)) + "}")
    return ", ".join(sorted(set(out))) or "none"


def _index(m: z3.ModelRef, s: z3.ExprRef, servers: Sequence[z3.ExprRef]) -> int:
    v = m.eval(s, model_completion=True)
    for k, e in enumerate(servers):
        if z3.is_true(m.eval(v == e, model_completion=True)):
            return k
    raise DecodeError(f"{s} is no server of the model")


def _server(m: z3.ModelRef, s: PSym, i: z3.ExprRef, servers: Sequence[z3.ExprRef]) -> ServerState:
    role = str(m.eval(s.role(i), model_completion=True))
    if role not in ROLES:
        raise DecodeError(f"role {role}")
    length = _int(m, s.len(i))
    if length < 0:
        raise DecodeError(f"log length {length}")
    vote = m.eval(s.voted(i), model_completion=True)
    voted = NIL if z3.is_true(m.eval(Vote.is_nil(vote), model_completion=True)) else _index(m, Vote.of(vote), servers)
    return ServerState(
        current_term=_int(m, s.term(i)),
        role=role,
        voted_for=voted,
        log=tuple(Entry(_int(m, s.log_term(i, z3.IntVal(x))), _int(m, s.log_value(i, z3.IntVal(x)))) for x in range(1, length + 1)),
        commit_index=_int(m, s.commit(i)),
        votes_responded=frozenset(k for k, j in enumerate(servers) if _bool(m, s.vr(i, j))),
        votes_granted=frozenset(k for k, j in enumerate(servers) if _bool(m, s.vg(i, j))),
        next_index=tuple(_int(m, s.next(i, j)) for j in servers),
        match_index=tuple(_int(m, s.match(i, j)) for j in servers),
    )


def _records(m: z3.ModelRef, s: PSym, mtype: str, slots: Optional[dict[str, list[z3.ExprRef]]]) -> list[z3.ExprRef]:
    """Every record with a count other than the default in the base state's bag, and those the step touched.

    The base state's bag function is read from its table in the model; a default
    (`else`) count of 1 or more is a bag of infinitely many messages, which no spec
    state has.
    """
    found: dict[str, z3.ExprRef] = {}
    for touched_type, rec in [*s.touched, *[(mtype, r) for r in (slots or {}).get(mtype, [])]]:
        if touched_type == mtype:
            value = m.eval(rec, model_completion=True)
            found[str(value)] = value
    if slots is not None:
        return list(found.values())
    f = s.base[f"net_{mtype}"]
    # Z3 leaves a function the query does not constrain out of the model (completed as 0 when read).
    interp = m[f] if isinstance(f, z3.FuncDeclRef) and f in set(m.decls()) else None
    if interp is not None and _has_else(interp):
        default = m.eval(interp.else_value(), model_completion=True)
        if not z3.is_int_value(default):
            raise DecodeError(f"the {mtype} bag has no readable default count ({default})")
        if default.as_long() >= 1:  # type: ignore[attr-defined]
            raise DecodeError(f"every {mtype} is in flight {default} times (an infinite bag, which no spec state has)")
    if interp is not None:
        for k in range(interp.num_entries()):
            rec = interp.entry(k).arg_value(2)
            found[str(rec)] = rec
    return list(found.values())


def _has_else(interp: z3.FuncInterp) -> bool:
    """Whether the table has a default (Z3 leaves it out when the entries are all there is)."""
    try:
        interp.else_value()
    except z3.Z3Exception:  # the C API reports a missing default as an error ("ast is null")
        return False
    return True


def _state(m: z3.ModelRef, s: PSym, servers: Sequence[z3.ExprRef], slots: Optional[dict[str, list[z3.ExprRef]]]) -> State:
    bag: list[tuple[Message, int]] = []
    for mtype in MESSAGE_TYPE_NAMES:
        records = _records(m, s, mtype, slots)
        for a, src in enumerate(servers):
            for b, dst in enumerate(servers):
                for rec in records:
                    count = _int(m, s.count(mtype, src, dst, rec))
                    if count >= 1:
                        bag.append((decode_message(m, mtype, a, b, rec), count))
    return State(tuple(_server(m, s, i, servers) for i in servers), tuple(sorted(bag)))


def _action(m: z3.ModelRef, inst: PInstance, eff: PEffect, servers: Sequence[z3.ExprRef]) -> Action:
    if inst.mtype is not None:
        src, dst, rec = eff.args
        return Action(inst.name, (decode_message(m, inst.mtype, _index(m, src, servers), _index(m, dst, servers), rec),))
    args = [_index(m, a, servers) if a.sort() == Server else _int(m, a) for a in eff.args]
    if inst.name == "AdvanceCommitIndex":
        args = args[:1]  # the agreed index is the action's own choice, no argument
    return Action(inst.name, tuple(args))
