"""Is a counterexample to induction real?  Reachability of its pre-state, by the explorer or a scripted run.

How this works: `explorer_reach(spec)` is an oracle that explores the spec's
bounded model once (stopping at the first violation) and answers whether a state
is among the reachable ones (None when the search was incomplete and the state was
not found).  A variant whose bug needs more than the explorer can finish carries a
scripted run from Init (`scenario()`), whose states are reachable by construction.
When Z3 gives a counterexample the explorer does not reach, or gives up,
`reachable_cti` walks the reachable states in breadth-first order for one whose
step breaks the lemma by the Python definitions, and has Z3 confirm it on the
concrete state: a failure whatever the symbolic query said.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import z3

from leaderfollower.checker.z3.decode import decode_state
from leaderfollower.checker.z3.model import Instance, Z3Model
from leaderfollower.checker.z3.obligations import definition
from leaderfollower.checker.z3.results import Cti
from leaderfollower.spec.actions import Action
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import State


def reachable_cti(
    spec: RaftSpec,
    result: Any,
    action: str,
    name: str,
    names: Sequence[str],
    timeout_ms: int = 60_000,
    source: str = "explorer's states",
) -> Optional[Cti]:
    """A counterexample to induction whose pre-state the explorer reached, confirmed by Z3.

    `result` is an explorer result, or any object with `distinct_states`, `state(k)`
    and `depth[k]` holding reachable states (`ScriptedRun`); `source` names it.
    Walks the explored states in breadth-first order (shortest first); a state whose
    successor under `action` breaks `name` by the Python definitions is a
    candidate, and Z3 confirms it: the concrete pre-state satisfies every conjunct
    in `names`, the instance is enabled, and `name` fails after it.
    """
    from leaderfollower.checker.z3.lemmas import LEMMAS as _LEMMAS
    from leaderfollower.spec.properties import property_by_name

    from leaderfollower.checker.z3.model import record_of

    def py_def(n: str) -> Callable[[RaftSpec, State], bool]:
        for lm in _LEMMAS:
            if lm.name == n and lm.holds is not None:
                return lm.holds
        prop = property_by_name(n)
        assert prop.holds is not None
        return prop.holds

    try:
        target = py_def(name)
        hyps_py = [py_def(n) for n in names]
    except (KeyError, AssertionError):
        return None
    model = Z3Model.for_spec(spec)
    for sid in range(result.distinct_states):
        before = result.state(sid)
        checked = False
        for act, after in spec.successors(before):
            if act.name != action or target(spec, after):
                continue
            if not checked:  # the (costlier) hypotheses only for a state whose step breaks the target
                if not all(h(spec, before) for h in hyps_py):
                    break
                checked = True
            # Confirm with Z3 on the concrete pre-state.
            pre = model.concrete(before)
            if act.args and isinstance(act.args[0], tuple):
                m = act.args[0]
                inst = Instance(act.name, (), m.mtype, m.msource, m.mdest)
                rec: Optional[z3.ExprRef] = record_of(m)
            else:
                inst = Instance(act.name, tuple(act.args))  # type: ignore[arg-type]
                rec = None
            eff, post = model.post_state(pre, inst, rec, tag="_reach")
            s = z3.Solver()
            s.set("timeout", timeout_ms)
            s.add(*[definition(n)(model, pre) for n in names], eff.guard, *eff.aux, z3.Not(definition(name)(model, post)))
            if s.check() == z3.sat:
                z3_after = decode_state(s.model(), post)
                return Cti(before, act, z3_after, True, f"found among the {source} (state {sid}, depth {result.depth[sid]})")
    return None


def explorer_reach(spec: RaftSpec) -> Callable[[State], Optional[bool]]:
    """A reachability oracle: whether the explorer reaches a state within the spec's bounds (None: unknown)."""
    from leaderfollower.checker.explore.search import explore

    cache: dict[str, object] = {}

    def result() -> Any:
        if "result" not in cache:
            # Stopping at the first violation keeps runs on broken variants short; a
            # state not found by an incomplete search has unknown reachability.
            cache["result"] = explore(spec, keep_graph=False, stop_on_violation=True)
        return cache["result"]

    scenario = getattr(type(spec), "scenario", None)
    scripted: dict[str, Optional[ScriptedRun]] = {}

    def scripted_run() -> Optional[ScriptedRun]:
        if "run" not in scripted:
            scripted["run"] = ScriptedRun.of(spec, scenario()) if callable(scenario) else None
        return scripted["run"]

    def reach(s: State) -> Optional[bool]:
        if s.servers and scripted_run() is not None and s in scripted_run().states:  # type: ignore[union-attr]
            return True  # on the spec's scripted run from the initial state: reachable, whatever the bounds
        if not s.servers or not spec.within_bounds(s):
            return False
        if result().find(s) is not None:
            return True
        return False if result().complete else None

    reach.result = result  # type: ignore[attr-defined]
    reach.scripted = scripted_run  # type: ignore[attr-defined]
    return reach


@dataclass
class ScriptedRun:
    """The states of a spec's scripted run (`scenario()`), a reachable path from Init.

    Looks like an explorer result to `reachable_cti`: `distinct_states`, `state(k)`,
    `depth[k]`.  Broken variants whose bug needs more than the explorer can finish
    (figure 8 needs five terms) carry such a run.
    """

    states: list[State]

    @classmethod
    def of(cls, spec: RaftSpec, actions: Sequence[Action]) -> "ScriptedRun":
        """Apply the actions from the initial state; ValueError if one is not enabled."""
        s = spec.init()
        states = [s]
        for k, a in enumerate(actions, start=1):
            nxt = spec.apply(s, a)
            if nxt is None:
                raise ValueError(f"scripted step {k} ({a}) is not enabled")
            s = nxt
            states.append(s)
        return cls(states)

    @property
    def distinct_states(self) -> int:
        """How many states the run has (the initial one included)."""
        return len(self.states)

    @property
    def depth(self) -> list[int]:
        """A state's step number on the run."""
        return list(range(len(self.states)))

    def state(self, k: int) -> State:
        """The state after k steps."""
        return self.states[k]
