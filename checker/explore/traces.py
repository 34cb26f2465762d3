"""Concrete traces out of an explored graph, and their human-readable form.

How this works: the explorer stores one representative per state (per orbit with
symmetry on) and the BFS parent of each, so a shortest path is a walk up the parent
pointers.  A trace is made concrete by replaying it from the real initial state: at
each step, among the successors the spec gives, the one whose state *is* the stored
one (with symmetry: lies in the stored orbit) is taken.  A label alone is not
trusted: a variant's action may have two successors under one label, and only the
state tells which one the search took.  If no successor reaches the stored state the
rebuild fails loudly (`TraceError`).  The result is a list of real steps, which is
what a user (and the conformance replayer) needs.

A finding becomes a `FindingTrace`: the trace to the state it was found in, plus, for
an action property, the violating step, and for an action that raised, the concrete
action (renamed to the trace's servers) and the exception it raises there, kept apart
from the steps: a raising action leads to no state.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Optional, Sequence

from leaderfollower.spec.actions import ACTION_BY_NAME, Action, Arg, ArgKind, format_message
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import ServerState, State

from leaderfollower.checker.explore.result import ExploreResult, Finding
from leaderfollower.checker.explore.search import describe_exception
from leaderfollower.checker.explore.store import permute_message, permute_state


@dataclass(frozen=True)
class Step:
    """One step of a trace: the action taken (None for the initial state) and the state after it."""

    action: Optional[Action]
    state: State


Trace = list[Step]


class TraceError(Exception):
    """A trace does not replay: the step number and what went wrong."""


@dataclass(frozen=True)
class FindingTrace:
    """A finding made concrete: real states only, and the action that raised, if one did."""

    finding: Finding
    trace: Trace
    """From the initial state to the state of the finding (for an action property, one step past it)."""
    failed: Optional[Action] = None
    """For an action that raised: the action, named as in the trace's last state, where it raises."""
    error: Optional[str] = None
    """For an action that raised: the exception it raises in the trace's last state."""

    @property
    def steps(self) -> int:
        """The steps of the trace, as TLC counts a behaviour (an evaluation error adds none)."""
        return len(self.trace) - 1


def trace_to(result: ExploreResult, state_id: int) -> Trace:
    """A shortest concrete trace from the initial state to the stored state `state_id`."""
    spec = result.spec
    current = spec.init()
    trace: Trace = [Step(None, current)]
    symmetric = spec.params.symmetry
    for number, (node, label) in enumerate(result.path_to(state_id), start=1):
        target = result.key(node)
        stored = result.state(node)
        for action, nxt in spec.successors(current):
            if symmetric:
                if spec.within_bounds(nxt) and result.canonical_key(nxt) == target:
                    break
            elif action == label and nxt == stored:
                break
        else:
            where = "lies in the stored state's orbit" if symmetric else "is the stored state"
            raise TraceError(f"step {number}: no successor of {label} from the state before it {where} {node} (is the spec deterministic?)")
        trace.append(Step(action, nxt))
        current = nxt
    return trace


def finding_trace(result: ExploreResult, finding: Finding) -> FindingTrace:
    """The concrete trace of a violation, a witness or an action that raised (see `FindingTrace`)."""
    trace = trace_to(result, finding.state)
    if finding.action is None:
        return FindingTrace(finding, trace)
    spec = result.spec
    last = trace[-1].state
    perm = perm_between(result.state(finding.state), last)
    action = finding.action if perm is None else permute_action(finding.action, perm)
    if finding.kind == "error":
        try:
            spec.apply(last, action)
        except Exception as exc:
            return FindingTrace(finding, trace, action, describe_exception(exc))
        raise TraceError(f"{action} raised in the stored state {finding.state} but not at the end of its concrete trace")
    for label, nxt in spec.successors(last):
        if label == action and (finding.target is None or result.canonical_key(nxt) == finding.target):
            return FindingTrace(finding, trace + [Step(action, nxt)])
    raise TraceError(f"the violating step {action} does not lead from the end of its trace to the state it led to in the search")


def perm_between(stored: State, concrete: State) -> Optional[tuple[int, ...]]:
    """A permutation of server ids that turns `stored` into `concrete`, if there is one."""
    n = len(stored.servers)
    for perm in itertools.permutations(range(n)):
        if permute_state(stored, perm) == concrete:
            return perm
    return None


def permute_action(action: Action, perm: Sequence[int]) -> Action:
    """The action with its server arguments renamed by `perm` (messages renamed too, values kept).

    An action the table does not know (a user's `successors` may label its own) has its
    integer arguments taken as servers.
    """
    row = ACTION_BY_NAME.get(action.name)
    kinds = row.args if row is not None else (ArgKind.SERVER,) * len(action.args)
    new_args: list[Arg] = []
    for kind, a in zip(kinds, action.args):
        if isinstance(a, tuple):
            new_args.append(permute_message(a, perm))
        elif kind is ArgKind.SERVER:
            new_args.append(perm[a])
        else:
            new_args.append(a)
    return Action(action.name, tuple(new_args))


def replay(spec: RaftSpec, actions: Sequence[Action]) -> Trace:
    """Apply actions from the initial state; raises TraceError at the first one not enabled."""
    current = spec.init()
    trace: Trace = [Step(None, current)]
    for number, action in enumerate(actions, start=1):
        nxt = spec.apply(current, action)
        if nxt is None:
            raise TraceError(f"step {number}: {action} is not enabled")
        trace.append(Step(action, nxt))
        current = nxt
    return trace


# ----------------------------------------------------------------- printing


def _fmt_value(name: str, value: object) -> str:
    if name == "log":
        return "[" + ", ".join(f"t{e.term}:v{e.value}" for e in value) + "]"  # type: ignore[attr-defined]
    if isinstance(value, frozenset):
        return "{" + ", ".join(str(x) for x in sorted(value)) + "}"
    if value is None:
        return "Nil"
    return str(value)


def server_changes(before: ServerState, after: ServerState) -> list[str]:
    """`field: old -> new` for every variable of one server that differs."""
    out = []
    for name, old, new in zip(ServerState._fields, before, after):
        if old != new:
            out.append(f"{name} {_fmt_value(name, old)} -> {_fmt_value(name, new)}")
    return out


def bag_changes(before: State, after: State) -> list[str]:
    """Messages added (+) and removed (-) between two states, with counts."""
    old = dict(before.messages)
    new = dict(after.messages)
    out = []
    for m in sorted(set(old) | set(new)):
        a, b = old.get(m, 0), new.get(m, 0)
        if a != b:
            sign = "+" if b > a else "-"
            extra = f" (x{b})" if b > 1 else ""
            out.append(f"{sign} {format_message(m)}{extra}")
    return out


def describe_state(s: State) -> list[str]:
    """Every variable of a state, one line per server plus the messages."""
    lines = []
    for k, srv in enumerate(s.servers):
        fields = ", ".join(f"{name}={_fmt_value(name, v)}" for name, v in zip(ServerState._fields, srv))
        lines.append(f"s{k}: {fields}")
    for m, c in s.messages:
        lines.append(f"msg: {format_message(m)}" + (f" (x{c})" if c > 1 else ""))
    if not s.messages:
        lines.append("msg: (none)")
    return lines


def format_trace(trace: Trace) -> str:
    """A numbered list of steps showing only what changed at each one."""
    lines: list[str] = []
    first = trace[0].state
    lines.append("  0  Init")
    for line in describe_state(first):
        lines.append(f"       {line}")
    for number, (prev, step) in enumerate(zip(trace, trace[1:]), start=1):
        lines.append(f"{number:>3}  {step.action}")
        lines += [f"       {line}" for line in state_changes(prev.state, step.state)]
    return "\n".join(lines)


def format_finding(ft: FindingTrace) -> str:
    """The finding's trace, and for an action that raised, a last line `  !  Action raised Error: ...`."""
    text = format_trace(ft.trace)
    if ft.failed is not None:
        text += f"\n  !  {ft.failed} raised {ft.error}"
    return text


def state_changes(before: State, after: State) -> list[str]:
    """What a step changed: `sK: field old -> new; ...` per server, `net +/- message`, or `(no change)`."""
    lines = []
    for k, (a, b) in enumerate(zip(before.servers, after.servers)):
        diffs = server_changes(a, b)
        if diffs:
            lines.append(f"s{k}: " + "; ".join(diffs))
    lines += [f"net {line}" for line in bag_changes(before, after)]
    return lines or ["(no change)"]
