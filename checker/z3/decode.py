"""Z3 models back into the spec's own values: states, messages and actions.

How this works: a model gives every constant of a symbolic state a value; servers'
variables are read directly, logs up to their length, and each message array is
read as the store chain Z3 prints for it (`Store(K(sort, 0), record, count)`, or a
function table), keeping the records with a count of at least 1.  A counterexample
to induction may put a non-zero default in an array (every message of that type
in flight at once): such a state cannot be written as a spec `State`, and
`decode_state` says so with a `DecodeError` naming the array.
"""
from __future__ import annotations

from typing import Optional

import z3

from leaderfollower.spec.actions import Action
from leaderfollower.spec.state import (
    MESSAGE_TYPES,
    NIL,
    ROLES,
    AppendEntriesRequest,
    Entry,
    Message,
    ServerState,
    State,
)

from leaderfollower.checker.z3.model import NIL_ID, RECORDS, Instance, Step, Sym, Z3Model


class DecodeError(Exception):
    """A model value that has no spec counterpart; the message names the variable."""


def _int(model: z3.ModelRef, e: z3.ExprRef) -> int:
    v = model.eval(e, model_completion=True)
    if not z3.is_int_value(v):
        raise DecodeError(f"{e} has no integer value in the model (got {v})")
    return int(v.as_long())  # type: ignore[attr-defined]


def _bool(model: z3.ModelRef, e: z3.ExprRef) -> bool:
    v = model.eval(e, model_completion=True)
    if z3.is_true(v):
        return True
    if z3.is_false(v):
        return False
    raise DecodeError(f"{e} has no truth value in the model (got {v})")


def decode_message(model: z3.ModelRef, mtype: str, src: int, dst: int, rec: z3.ExprRef) -> Message:
    """The spec message for a record term under a model."""
    rec = model.eval(rec, model_completion=True)
    sort = RECORDS[mtype]
    values: dict[str, object] = {}
    for k in range(sort.constructor(0).arity()):
        acc = sort.accessor(0, k)
        v = model.eval(acc(rec), model_completion=True)
        values[acc.name()] = bool(z3.is_true(v)) if z3.is_bool(v) else int(v.as_long())  # type: ignore[attr-defined]
    return message_from_fields(mtype, src, dst, values)


def message_from_fields(mtype: str, src: int, dst: int, values: dict[str, object]) -> Message:
    """A spec message from a record's field values."""
    if mtype == "AppendEntriesRequest":
        n = values.pop("mn")
        et, ev = values.pop("mentry_term"), values.pop("mentry_value")
        entries = (Entry(int(et), int(ev)),) if n == 1 else ()  # type: ignore[call-overload]
        if n not in (0, 1):
            raise DecodeError(f"AppendEntriesRequest {src}->{dst} with {n} entries (expected 0 or 1)")
        return AppendEntriesRequest(mtype, msource=src, mdest=dst, mentries=entries, **values)  # type: ignore[arg-type]
    cls = MESSAGE_TYPES[mtype]
    return cls(mtype, msource=src, mdest=dst, **values)  # type: ignore[no-any-return]


def _array_entries(model: z3.ModelRef, arr: z3.ExprRef, name: str) -> list[tuple[z3.ExprRef, int]]:
    """(record, count) for every record the array maps to a count >= 1."""
    v = model.eval(arr, model_completion=True)
    entries: dict[str, tuple[z3.ExprRef, int]] = {}
    while True:
        if z3.is_store(v):
            idx, val = v.arg(1), v.arg(2)
            key = str(idx)
            if key not in entries:
                entries[key] = (idx, int(val.as_long()))  # type: ignore[attr-defined]
            v = v.arg(0)
            continue
        if z3.is_const_array(v):
            default = int(v.arg(0).as_long())  # type: ignore[attr-defined]
            break
        if z3.is_as_array(v):
            f = z3.get_as_array_func(v)
            interp = model[f]
            for row in interp.as_list()[:-1]:  # type: ignore[union-attr]
                key = str(row[0])
                if key not in entries:
                    entries[key] = (row[0], int(row[1].as_long()))
            default = int(interp.else_value().as_long())  # type: ignore[union-attr]
            break
        raise DecodeError(f"message array {name}: cannot read the model value {v}")
    if default >= 1:
        raise DecodeError(
            f"message array {name}: every message of this type has {default} copies in flight "
            "(an infinite bag, which no spec state has)"
        )
    return [(rec, count) for rec, count in entries.values() if count >= 1]


def decode_state(model: z3.ModelRef, sym: Sym) -> State:
    """The spec state a model gives a symbolic state."""
    n = sym.n
    servers = []
    for i in range(n):
        role_v = model.eval(sym.role(i), model_completion=True)
        role = str(role_v)
        if role not in ROLES:
            raise DecodeError(f"server {i}: role {role_v}")
        length = _int(model, sym.len(i))
        if length < 0:
            raise DecodeError(f"server {i}: log length {length}")
        log = tuple(
            Entry(_int(model, sym.log_term(i)[k]), _int(model, sym.log_value(i)[k])) for k in range(1, length + 1)
        )
        vf = _int(model, sym.voted_for(i))
        servers.append(
            ServerState(
                current_term=_int(model, sym.term(i)),
                role=role,
                voted_for=NIL if vf == NIL_ID else vf,
                log=log,
                commit_index=_int(model, sym.commit(i)),
                votes_responded=frozenset(j for j in range(n) if _bool(model, sym.vr(i, j))),
                votes_granted=frozenset(j for j in range(n) if _bool(model, sym.vg(i, j))),
                next_index=tuple(_int(model, sym.next(i, j)) for j in range(n)),
                match_index=tuple(_int(model, sym.match(i, j)) for j in range(n)),
            )
        )
    bag: list[tuple[Message, int]] = []
    for mtype in RECORDS:
        for src in range(n):
            for dst in range(n):
                name = f"{mtype} {src}->{dst}"
                for rec, count in _array_entries(model, sym.net(mtype, src, dst), name):
                    bag.append((decode_message(model, mtype, src, dst, rec), count))
    bag.sort()
    return State(tuple(servers), tuple(bag))


def decode_action(model: z3.ModelRef, inst: Instance, rec: Optional[z3.ExprRef]) -> Action:
    """The spec action an instance stands for (with its message, for a message action)."""
    if inst.is_message:
        assert rec is not None and inst.mtype is not None
        return Action(inst.name, (decode_message(model, inst.mtype, inst.src, inst.dst, rec),))
    return Action(inst.name, inst.args)


def decode_step_action(model: z3.ModelRef, step: Step) -> Action:
    """The action a model chose for a step of the transition relation."""
    k = _int(model, step.choice)
    inst = step.instances[k]
    rec = step.messages[(inst.mtype, inst.src, inst.dst)] if inst.is_message else None  # type: ignore[index]
    return decode_action(model, inst, rec)


class _Substitution:
    """z3.substitute for many terms with one fixed list of pairs (its per-call checks dominate otherwise)."""

    def __init__(self, sources: list[z3.ExprRef], targets: list[z3.ExprRef]) -> None:
        self.ctx = sources[0].ctx
        self.n = len(sources)
        self.sources, self.targets = sources, targets  # keep the terms alive
        self._from = z3.z3._to_ast_array(sources)[0]  # type: ignore[attr-defined]
        self._to = z3.z3._to_ast_array(targets)[0]  # type: ignore[attr-defined]

    def __call__(self, e: z3.ExprRef) -> z3.ExprRef:
        ast = z3.z3.Z3_substitute(self.ctx.ref(), e.as_ast(), self.n, self._from, self._to)
        return z3.z3._to_expr_ref(ast, self.ctx)  # type: ignore[attr-defined]


class SuccessorOracle:
    """Every (action, successor) the Z3 transition relation allows from a concrete state.

    The relation is built once over a symbolic pre-state; each query substitutes the
    concrete pre-state and enumerates the enabled (instance, message) choices,
    blocking each once seen.  The successor is a function of the choice
    (`Z3Model.transition`), so each choice gives one successor.
    """

    def __init__(self, model_: Z3Model) -> None:
        self.model = model_
        self.pre = model_.fresh("pre")
        self.step = model_.transition(self.pre, "")

    def successors(self, s: State, limit: int = 10_000) -> set[tuple[Action, State]]:
        step = self.step
        concrete = self.model.concrete(s)
        subst = _Substitution([self.pre[key] for key in self.pre.vars], [concrete[key] for key in self.pre.vars])
        enabled = subst(step.enabled)
        post = Sym(self.pre.n, {key: subst(v) for key, v in step.post.vars.items()})
        solver = z3.Then("simplify", "solve-eqs", "smt").solver()
        solver.add(enabled)
        out: set[tuple[Action, State]] = set()
        for _ in range(limit):
            if solver.check() != z3.sat:
                return out
            m = solver.model()
            out.add((decode_step_action(m, step), decode_state(m, post)))
            k = _int(m, step.choice)
            inst = step.instances[k]
            block = [step.choice == k]
            if inst.is_message:
                rec = step.messages[(inst.mtype, inst.src, inst.dst)]  # type: ignore[index]
                block.append(rec == m.eval(rec, model_completion=True))
            solver.add(z3.Not(z3.And(block)))
        raise AssertionError(f"more than {limit} Z3 successors")
