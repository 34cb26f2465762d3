"""Concrete traces out of an explored graph, and their human-readable form.

How this works: the explorer stores one representative per state (per orbit with
symmetry on) and the BFS parent of each, so a shortest path is a walk up the parent
pointers.  With symmetry, consecutive representatives need not be related by the
stored action itself, so a trace is made concrete by replaying it from the real
initial state: at each step the first enabled action whose successor lies in the
next stored orbit is taken.  The result is a list of steps that
`RaftSpec.apply` replays exactly, which is what a user (and the conformance
replayer) needs.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Optional, Sequence

from leaderfollower.spec.raft import Action, Arg, RaftSpec, format_message
from leaderfollower.spec.state import ServerState, State

from leaderfollower.checker.explore.search import ExploreResult, Finding, permute_message, permute_state


@dataclass(frozen=True)
class Step:
    """One step of a trace: the action taken (None for the initial state) and the state after it."""

    action: Optional[Action]
    state: State


Trace = list[Step]


class TraceError(Exception):
    """A trace does not replay: the step number and what went wrong."""


def trace_to(result: ExploreResult, state_id: int) -> Trace:
    """A shortest concrete trace from the initial state to the stored state `state_id`."""
    spec = result.spec
    current = spec.init()
    trace: Trace = [Step(None, current)]
    for number, (node, label) in enumerate(result.path_to(state_id), start=1):
        target = result.key(node)
        if not spec.params.symmetry:
            nxt = spec.apply(current, label)
            if nxt is None:
                raise TraceError(f"step {number}: {label} is not enabled")
            trace.append(Step(label, nxt))
            current = nxt
            continue
        for action, nxt in spec.successors(current):
            if spec.within_bounds(nxt) and result.canonical_key(nxt) == target:
                trace.append(Step(action, nxt))
                current = nxt
                break
        else:
            raise TraceError(f"step {number}: no action leads into the stored state {node}")
    return trace


def counterexample(result: ExploreResult, finding: Finding) -> Trace:
    """The concrete trace of a finding; for an action property or an error, ending with the bad step."""
    trace = trace_to(result, finding.state)
    if finding.action is None:
        return trace
    spec = result.spec
    last = trace[-1].state
    stored = result.state(finding.state)
    action = finding.action
    perm = perm_between(stored, last)
    if perm is not None:
        action = permute_action(action, perm)
    if finding.kind == "error":
        return trace + [Step(action, last)]
    nxt = spec.apply(last, action)
    if nxt is None:
        raise TraceError(f"the violating step {action} is not enabled at the end of its trace")
    return trace + [Step(action, nxt)]


def perm_between(stored: State, concrete: State) -> Optional[tuple[int, ...]]:
    """A permutation of server ids that turns `stored` into `concrete`, if there is one."""
    n = len(stored.servers)
    for perm in itertools.permutations(range(n)):
        if permute_state(stored, perm) == concrete:
            return perm
    return None


def permute_action(action: Action, perm: Sequence[int]) -> Action:
    """The action with its server arguments renamed by `perm` (messages renamed too)."""
    name, args = action
    if name in ("ClientRequest",):
        server = args[0]
        if isinstance(server, tuple):  # a message here would fail the index below anyway
            raise TypeError(f"ClientRequest's first argument must be a server id, not {server!r}")
        return Action(name, (perm[server], args[1]))
    new_args: list[Arg] = []
    for a in args:
        if isinstance(a, tuple):
            new_args.append(permute_message(a, perm))
        else:
            new_args.append(perm[a])
    return Action(name, tuple(new_args))


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


def state_changes(before: State, after: State) -> list[str]:
    """What a step changed: `sK: field old -> new; ...` per server, `net +/- message`, or `(no change)`."""
    lines = []
    for k, (a, b) in enumerate(zip(before.servers, after.servers)):
        diffs = server_changes(a, b)
        if diffs:
            lines.append(f"s{k}: " + "; ".join(diffs))
    lines += [f"net {line}" for line in bag_changes(before, after)]
    return lines or ["(no change)"]
