"""Scripted runs of the spec: a scenario written as a story, recorded as actions.

How this works: a `Script` drives one spec from its initial state through actions
named like the spec's (`do(ActionName.Timeout, 0)`), plus a few story-level steps built from
them (`elect`, `replicate`, `heartbeat`, `deliver`).  Every step must be enabled and
within the spec's bounds; the script keeps every state and every action, so a
scenario can be replayed, checked against the properties, or drawn.  Variants whose
bug lies beyond what the explorer can afford (the Raft paper's figure 8 needs five
terms) carry such a scenario as their evidence.
"""
from __future__ import annotations

from typing import Optional

from .actions import Action, ActionName
from .properties import PROPERTIES
from .raft import RaftSpec
from .state import State


class ScriptError(AssertionError):
    """A scripted step is not enabled, or leaves the bounds."""


class Script:
    """A spec driven step by step; `states[k]` is reached by `actions[k - 1]`."""

    def __init__(self, spec: RaftSpec) -> None:
        self.spec = spec
        self.state = spec.init()
        self.states: list[State] = [self.state]
        self.actions: list[Action] = []

    def _step(self, action: Action, nxt: State) -> None:
        if not self.spec.within_bounds(nxt):
            raise ScriptError(f"{action} leaves the bounds ({self.spec.params.describe()})")
        self.state = nxt
        self.states.append(nxt)
        self.actions.append(action)

    def do(self, name: str, *args: int) -> None:
        """Take one spec action; ScriptError if it is not enabled (or not an action's name)."""
        try:
            action = Action(ActionName(name), tuple(args))
        except ValueError:
            raise ScriptError(f"{name!r} is not an action of the spec") from None
        nxt = self.spec.apply(self.state, action)
        if nxt is None:
            raise ScriptError(f"{action} is not enabled")
        self._step(action, nxt)

    def deliver(self, mtype: str, src: int, dst: int) -> list[str]:
        """Receive the one such message until it leaves the network; the handlers that ran."""
        found = [m for m, _ in self.state.messages if (m.mtype, m.msource, m.mdest) == (mtype, src, dst)]
        if len(found) != 1:
            raise ScriptError(f"expected one {mtype} {src}->{dst} in flight, found {len(found)}")
        m = found[0]
        ran = []
        while any(x == m for x, _ in self.state.messages):
            got = self.spec.receive(self.state, m)
            if len(got) != 1:
                raise ScriptError(f"{len(got)} handlers take {m}; a script needs exactly one")
            action, nxt = got[0]
            ran.append(str(action.name))
            self._step(action, nxt)
        return ran

    def elect(self, c: int, term: int, voters: list[int]) -> None:
        """Server c times out up to `term` and wins with its own vote and the voters'."""
        while self.state.servers[c].current_term < term:
            self.do(ActionName.Timeout, c)
        for v in [c, *voters]:
            self.do(ActionName.RequestVote, c, v)
            self.deliver("RequestVoteRequest", c, v)
            self.deliver("RequestVoteResponse", v, c)
        self.do(ActionName.BecomeLeader, c)

    def replicate(self, leader: int, follower: int) -> None:
        """AppendEntries until the follower's matchIndex reaches the leader's log."""
        while self.state.servers[leader].match_index[follower] < len(self.state.servers[leader].log):
            self.heartbeat(leader, follower)

    def heartbeat(self, leader: int, follower: int) -> None:
        """One AppendEntries round trip from leader to follower."""
        self.do(ActionName.AppendEntries, leader, follower)
        self.deliver("AppendEntriesRequest", leader, follower)
        self.deliver("AppendEntriesResponse", follower, leader)

    def violated(self, s: Optional[State] = None) -> list[str]:
        """The always properties a state (default: the current one) violates."""
        s = self.state if s is None else s
        return [p.name for p in PROPERTIES if p.kind == "always" and p.holds is not None and not p.holds(self.spec, s)]

    def first_violation(self) -> list[str]:
        """The always properties broken at the first state that breaks any."""
        for s in self.states:
            bad = self.violated(s)
            if bad:
                return bad
        return []
