"""Skolem functions and witness hints for the existential lemmas of the parametric log-safety proof.

How this works: seven lemmas say "there is" something: a quorum (LeaderHasQuorum,
TermsReachedByQuorum, AppendEntriesFromWonElections, the "doomed" case of
LeaderEntriesAckedSafely), a server and a quorum (EntriesFromWonElections), or a
safe entry and its quorum (CommitIsSafe, AppendEntriesCommitIsSafe).  Z3 does not
find those witnesses after a step by itself (docs/z3.md), so a witnessed query is
tried first:

- each assumed existential lemma is replaced by the same lemma with a Skolem
  function for its witness (`commit_x(i)`, `reached_quorum(t)`, ...).  A function of
  every variable the existential is under (or of fewer, where the body depends only
  on those: "a quorum reached t" depends on t alone) is equisatisfiable with the
  existential, so nothing is assumed that the lemma does not say;
- the step's own existential guard gets a named witness, `step_quorum` (the
  quorum that elects the leader in BecomeLeader, the agreeing quorum of
  AdvanceCommitIndex), constrained as the guard's existential is: equisatisfiable
  with the guard;
- the goal after the step names its witness among candidates (the pre-state's
  Skolem witness, the step's quorum, the leader's vote quorum, the leader's commit
  witness for the request AppendEntries sends, the request's for the follower that
  takes its commitIndex).  A goal that names a witness implies the existential, so
  a proof of the witnessed query proves the obligation; when it is not proved, the
  plain query runs.
"""
from __future__ import annotations

from typing import Optional

import z3

from leaderfollower.checker.z3.model import RECORDS
from leaderfollower.checker.z3.parametric import commitment as cm
from leaderfollower.checker.z3.parametric.lemmas import WonWitnesses
from leaderfollower.checker.z3.parametric.model import PEffect, PInstance, PSym, Quorum, Server, member
from leaderfollower.checker.z3.parametric.terms import won_by

SKOLEMIZED: frozenset[str] = frozenset(
    {
        "EntriesFromWonElections",
        "LeaderHasQuorum",
        "TermsReachedByQuorum",
        "AppendEntriesFromWonElections",
        "LeaderEntriesAckedSafely",
        "CommitIsSafe",
        "AppendEntriesCommitIsSafe",
    }
)
"""The lemmas whose hypothesis the witnessed query replaces by a Skolem form."""

WITNESSED_GOALS: frozenset[str] = SKOLEMIZED - {"LeaderHasQuorum"}
"""The lemmas whose goal after a step the witnessed query states with named witnesses."""

_I = z3.IntSort()
_AE = RECORDS["AppendEntriesRequest"]


class LogSafetyWitnesses:
    """The Skolem functions of the log-safety lemmas, their Skolem forms, and the witnessed goals after a step."""

    def __init__(self) -> None:
        self.won = WonWitnesses()
        self.reached_quorum = z3.Function("reached_quorum", _I, Quorum)
        self.ae_quorum = z3.Function("ae_quorum", Server, _I, Quorum)
        self.doomed_quorum = z3.Function("doomed_quorum", Server, _I, Quorum)
        self.commit_x = z3.Function("commit_x", Server, _I)
        self.commit_t = z3.Function("commit_t", Server, _I)
        self.commit_q = z3.Function("commit_q", Server, Quorum)
        self.request_x = z3.Function("request_x", Server, Server, _AE, _I)
        self.request_t = z3.Function("request_t", Server, Server, _AE, _I)
        self.request_q = z3.Function("request_q", Server, Server, _AE, Quorum)
        self.step_quorum = z3.Const("step_quorum", Quorum)

    def _commit(self, i: z3.ExprRef) -> cm.Witness:
        return self.commit_x(i), self.commit_t(i), self.commit_q(i)

    def _request(self, src: z3.ExprRef, dst: z3.ExprRef, r: z3.ExprRef) -> cm.Witness:
        return self.request_x(src, dst, r), self.request_t(src, dst, r), self.request_q(src, dst, r)

    def hypotheses(self, s: PSym, assumed: frozenset[str]) -> list[z3.BoolRef]:
        """The Skolem forms of the assumed lemmas of `SKOLEMIZED`."""
        out = self.won.hypotheses(s, assumed)
        if "TermsReachedByQuorum" in assumed:
            out += cm.terms_reached_by_quorum(s, lambda t: cm.reached(s, t, self.reached_quorum(t)))
        if "AppendEntriesFromWonElections" in assumed:
            out += cm.append_entries_from_won_elections(s, lambda src, t: won_by(s, t, src, self.ae_quorum(src, t)))
        if "LeaderEntriesAckedSafely" in assumed:
            out += cm.leader_entries_acked_safely(s, lambda lead, y: cm.doomed(s, lead, y, self.doomed_quorum(lead, y)))
        if "CommitIsSafe" in assumed:
            out += cm.commit_is_safe(s, lambda i: cm.commit_is_safe_body(s, i, self._commit(i)))
        if "AppendEntriesCommitIsSafe" in assumed:
            out += cm.append_entries_commit_is_safe(s, lambda src, dst, r: cm.request_commit_body(s, r, self._request(src, dst, r)))
        return out

    def quorum_terms(self, servers: list[z3.ExprRef], terms: list[z3.ExprRef]) -> list[z3.ExprRef]:
        """The Skolem quorums of the given servers and terms (a goal's named witnesses' quorums), and the step's."""
        out: list[z3.ExprRef] = [self.step_quorum]
        out += [f(x) for x in servers for f in (self.commit_q, self.won.leader_quorum)]
        out += [f(t) for t in terms for f in (self.won.winning_quorum, self.reached_quorum)]
        return out

    def step_facts(self, pre: PSym, inst: PInstance, eff: PEffect) -> list[z3.BoolRef]:
        """`step_quorum` as the witness of the step's existential guard (none for other actions)."""
        m = z3.Const("stq_m", Server)
        if inst.name == "BecomeLeader":
            (i,) = eff.args
            return [z3.ForAll([m], z3.Implies(member(m, self.step_quorum), pre.vg(i, m)))]
        if inst.name == "AdvanceCommitIndex":
            i, agreed = eff.args
            agrees = z3.Or(m == i, pre.match(i, m) >= agreed)
            # The quorum axiom for the agreeing quorum and the one that would doom the entry at agreed.
            common = z3.Const("stq_common", Server)
            meets = z3.And(member(common, self.step_quorum), member(common, self.doomed_quorum(i, agreed)))
            return [z3.Implies(agreed >= 1, z3.ForAll([m], z3.Implies(member(m, self.step_quorum), agrees))), meets]
        return []

    def goals(self, lemma: str, pre: PSym, post: PSym, inst: PInstance, eff: PEffect) -> Optional[list[z3.BoolRef]]:
        """The lemma after the step with named witnesses, or None if it has no witnessed form."""
        servers = tuple(a for a in eff.args if a.sort() == Server)
        quorums = [self.step_quorum, *[self.won.leader_quorum(x) for x in servers]]
        if lemma == "EntriesFromWonElections":
            return self.won.goals(post, servers)
        if lemma == "TermsReachedByQuorum":
            return cm.terms_reached_by_quorum(post, lambda t: z3.Or([cm.reached(post, t, q) for q in (self.reached_quorum(t), *quorums)]))
        if lemma == "AppendEntriesFromWonElections":

            def won_src(src: z3.ExprRef, t: z3.ArithRef) -> z3.BoolRef:
                return z3.Or(won_by(post, t, src, self.ae_quorum(src, t)), won_by(post, t, src, self.won.leader_quorum(src)))

            return cm.append_entries_from_won_elections(post, won_src)
        if lemma == "LeaderEntriesAckedSafely":

            def doomed_by(lead: z3.ExprRef, y: z3.ArithRef) -> z3.BoolRef:
                q = z3.Const("la_gq", Quorum)
                return z3.Or(cm.doomed(post, lead, y, self.doomed_quorum(lead, y)), z3.Exists([q], cm.doomed(post, lead, y, q)))

            return cm.leader_entries_acked_safely(post, doomed_by)
        if lemma == "CommitIsSafe":
            return cm.commit_is_safe(post, lambda i: self._commit_after(pre, post, inst, eff, i))
        if lemma == "AppendEntriesCommitIsSafe":
            return cm.append_entries_commit_is_safe(post, lambda src, dst, r: self._request_after(pre, post, inst, src, dst, r))
        return None

    def _commit_after(self, pre: PSym, post: PSym, inst: PInstance, eff: PEffect, i: z3.ExprRef) -> z3.BoolRef:
        """Server i's commitIndex is safe after the step: by the pre-state's witness, or where the step moved i's
        commitIndex, by the new one (the two cases apart, so that each is a goal of its own)."""
        old = cm.commit_is_safe_body(post, i, self._commit(i))
        if inst.name == "AdvanceCommitIndex":
            lead = eff.args[0]
            new: cm.Witness = (post.commit(lead), pre.term(lead), self.step_quorum)
        elif inst.name == "HandleAppendEntriesRequest" and inst.mtype == "AppendEntriesRequest":
            src, lead, rec = eff.args
            new = self._request(src, lead, rec)
        else:
            return old
        moved = z3.And(i == lead, post.commit(i) != pre.commit(i))
        return z3.And(z3.Implies(moved, cm.commit_is_safe_body(post, i, new)), z3.Implies(z3.Not(moved), old))

    def _request_after(self, pre: PSym, post: PSym, inst: PInstance, src: z3.ExprRef, dst: z3.ExprRef, r: z3.ExprRef) -> z3.BoolRef:
        """A request's mcommitIndex is safe after the step: by the pre-state's witness, or for the request that
        AppendEntries sends, by its sender's commit witness (the two cases apart)."""
        old = cm.request_commit_body(post, r, self._request(src, dst, r))
        if inst.name != "AppendEntries":
            return old
        fresh_request = z3.Not(pre.sent("AppendEntriesRequest", src, dst, r))
        new = cm.request_commit_body(post, r, self._commit(src))
        return z3.And(z3.Implies(fresh_request, new), z3.Implies(z3.Not(fresh_request), old))
