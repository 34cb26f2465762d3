"""Cutting a violating walk down to a short trace that still violates the same property.

How this works: a candidate is a list of actions, judged by replaying it through the
spec from the initial state (`RaftSpec.apply`, nothing else).  The replay is lenient
so that cutting steps can succeed: an action that is not enabled any more, or leads
outside the bounds, is skipped, and a message handler whose exact message is gone
takes the message in flight with the same type, sender and recipient if that one is
handled by the same handler.  The replay stops at the first state (or step) where any
property fails; the candidate is kept if that failure is the target property's.
What is kept is the list of actions that were actually applied, so every kept
candidate is a strict trace of the spec again.

The passes, repeated until none shortens the trace:
1. *loops*: where the trace comes back to a state it was in, the steps between go;
2. *shortcuts*: where one action leads from a state straight to a later state of the
   trace, it replaces the steps between (this also removes messages nobody needed);
3. *delta debugging* (Zeller's ddmin, complement removal): chunks of the trace are
   cut, from halves down to single steps, each cut kept if the replay still violates.
The result is a local minimum: no single step can be removed.  Each replay is
budgeted; a shrink that runs out of time returns the shortest trace found so far.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional, Sequence

from leaderfollower.spec.properties import Property
from leaderfollower.spec.actions import Action
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import Message, State

from ..explore.traces import Step, Trace, replay


@dataclass
class Shrunk:
    """A shrinking's outcome: the trace, how long it was before, and what it cost."""

    trace: Trace
    original_length: int
    replays: int
    seconds: float
    complete: bool
    """False when the time budget ended the shrinking before a local minimum."""


class _Judge:
    """Replays candidates and says where the first property failure is."""

    def __init__(self, spec: RaftSpec, properties: Sequence[Property], target: str) -> None:
        self.spec = spec
        self.target = target
        self.always = [p for p in properties if p.kind == "always"]
        self.steps = [p for p in properties if p.kind == "action"]
        self.sometimes = [p for p in properties if p.kind == "sometimes" and p.name == target]
        self._state_verdicts: dict[State, Optional[str]] = {}
        # A property that declares the server fields it reads is a function of them alone:
        # its answer is kept per tuple of those fields (replays revisit many such tuples).
        self._projected: dict[tuple[str, tuple[object, ...]], bool] = {}
        self.replays = 0

    def _holds(self, p: Property, s: State) -> bool:
        assert p.holds is not None
        if p.reads is None:
            return _true(p.holds, self.spec, s)
        key = (p.name, tuple([tuple([getattr(srv, f) for f in p.reads]) for srv in s.servers]))
        got = self._projected.get(key)
        if got is None:
            got = self._projected[key] = _true(p.holds, self.spec, s)
        return got

    def state_failure(self, s: State) -> Optional[str]:
        """The first always property the state breaks, or for a witness search the target when it holds."""
        if s in self._state_verdicts:
            return self._state_verdicts[s]
        verdict = next((p.name for p in self.always if not self._holds(p, s)), None)
        if verdict is None:
            verdict = next((p.name for p in self.sometimes if self._holds(p, s)), None)
        self._state_verdicts[s] = verdict
        return verdict

    def step_failure(self, before: State, after: State) -> Optional[str]:
        """The first action property a step breaks, for the servers it changed."""
        for a, b in zip(before.servers, after.servers):
            if a != b:
                for p in self.steps:
                    assert p.step_holds is not None
                    if not _true(p.step_holds, self.spec, a, b):
                        return p.name
        return None

    def run(self, actions: Sequence[Action], lenient: bool = True) -> Optional[Trace]:
        """The applied steps up to the first failure, if the target is what fails first; else None."""
        self.replays += 1
        spec = self.spec
        current = spec.init()
        trace: Trace = [Step(None, current)]
        failure = self.state_failure(current)
        if failure is not None:
            return trace if failure == self.target else None
        for action in actions:
            taken: Optional[Action] = action
            nxt = spec.apply(current, action)
            if nxt is None and lenient:
                taken, nxt = self._adapted(current, action)
            if taken is None or nxt is None or not spec.within_bounds(nxt):
                if lenient:
                    continue
                return None
            failure = self.step_failure(current, nxt) or self.state_failure(nxt)
            trace.append(Step(taken, nxt))
            current = nxt
            if failure is not None:
                return trace if failure == self.target else None
        return None

    def _adapted(self, s: State, action: Action) -> tuple[Optional[Action], Optional[State]]:
        """A handler whose message is gone, given the message in flight with the same type and ends."""
        if len(action.args) != 1 or not isinstance(action.args[0], tuple):
            return None, None
        m: Message = action.args[0]
        for other, _ in s.messages:
            if other != m and (other.mtype, other.msource, other.mdest) == (m.mtype, m.msource, m.mdest):
                candidate = Action(action.name, (other,))
                nxt = self.spec.apply(s, candidate)
                if nxt is not None:
                    return candidate, nxt
        return None, None


def broken_at_end(spec: RaftSpec, properties: Sequence[Property], trace: Trace) -> list[str]:
    """The properties a trace's end breaks: always properties in its last state, action properties on its last step
    (and sometimes properties that hold in its last state, for a witness)."""
    last = trace[-1].state
    out = [p.name for p in properties if p.kind == "always" and p.holds is not None and not _true(p.holds, spec, last)]
    if len(trace) > 1:
        before = trace[-2].state
        for p in properties:
            if p.kind == "action" and p.step_holds is not None:
                if any(a != b and not _true(p.step_holds, spec, a, b) for a, b in zip(before.servers, last.servers)):
                    out.append(p.name)
    out += [p.name for p in properties if p.kind == "sometimes" and p.holds is not None and _true(p.holds, spec, last)]
    return out


def _true(fn: object, *args: object) -> bool:
    try:
        return bool(fn(*args))  # type: ignore[operator]
    except Exception:  # a property that raises fails, as in the walk that found the violation
        return False


def _actions(trace: Trace) -> list[Action]:
    return [step.action for step in trace[1:] if step.action is not None]


def shrink(
    spec: RaftSpec,
    properties: Sequence[Property],
    target: str,
    actions: Sequence[Action],
    seconds: float = 30.0,
) -> Shrunk:
    """The shortest violating trace the passes reach from `actions` (which must violate `target`)."""
    start = time.perf_counter()
    deadline = start + seconds
    judge = _Judge(spec, properties, target)
    best = judge.run(actions)
    if best is None:
        raise ValueError(f"the walk does not replay into a violation of {target}")
    original = len(actions)
    complete = True
    while True:
        before = len(best)
        best = _cut_loops(judge, best)
        best = _shortcuts(judge, best, deadline)
        best, done = _ddmin(judge, best, deadline)
        if not done:
            complete = False
            break
        if len(best) >= before:
            break
    # The kept trace replays strictly (no skipped or adapted action) into the violation.
    exact = replay(spec, _actions(best))
    assert exact == best and judge.run(_actions(best), lenient=False) is not None
    return Shrunk(best, original, judge.replays, time.perf_counter() - start, complete)


def _cut_loops(judge: _Judge, trace: Trace) -> Trace:
    """Remove the steps between two visits of the same state."""
    first: dict[State, int] = {}
    keep: list[Action] = []
    states: list[State] = []
    for k, step in enumerate(trace):
        if step.state in first:
            cut = first[step.state]
            for s in states[cut + 1 :]:
                del first[s]
            del states[cut + 1 :]
            del keep[cut:]
            continue
        first[step.state] = len(states)
        states.append(step.state)
        if step.action is not None:
            keep.append(step.action)
    return _better(judge, trace, keep)


def _shortcuts(judge: _Judge, trace: Trace, deadline: float) -> Trace:
    """Replace the steps between two states of the trace by one action that joins them, where one exists."""
    spec = judge.spec
    changed = True
    while changed and time.perf_counter() < deadline:
        changed = False
        last = {step.state: k for k, step in enumerate(trace)}
        for k, step in enumerate(trace[:-2]):
            target = -1
            via: Optional[Action] = None
            for action, nxt in spec.successors(step.state):
                j = last.get(nxt, -1)
                if j > k + 1 and j > target and spec.within_bounds(nxt):
                    target, via = j, action
            if via is not None:
                candidate = _actions(trace[: k + 1]) + [via] + _actions(trace[target:])
                kept = judge.run(candidate)
                if kept is not None and len(kept) < len(trace):
                    trace = kept
                    changed = True
                    break
    return trace


def _ddmin(judge: _Judge, trace: Trace, deadline: float) -> tuple[Trace, bool]:
    """Cut chunks of steps, halving the chunk size down to one step; (trace, finished in time)."""
    actions = _actions(trace)
    chunk = max(1, len(actions) // 2)
    while chunk >= 1:
        k = 0
        while k < len(actions):
            if time.perf_counter() > deadline:
                return trace, False
            kept = judge.run(actions[:k] + actions[k + chunk :])
            if kept is not None and len(kept) < len(trace):
                trace = kept
                actions = _actions(trace)
            else:
                k += chunk
        chunk //= 2
    return trace, True


def _better(judge: _Judge, trace: Trace, actions: list[Action]) -> Trace:
    kept = judge.run(actions)
    return kept if kept is not None and len(kept) < len(trace) else trace
