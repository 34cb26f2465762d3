"""Broken variants of the spec: known classes of Raft bugs that the checker must catch.

How this works: each variant subclasses `RaftSpec` and overrides one method, the
way a user writes a variant of their own (`leaderfollower check --spec
file.py:Name`).  `VARIANTS` maps a short name to the class; each class says which
property it breaks and on which parameters (`catch_params`), and the test suite
pins the length of the shortest counterexample the explorer finds.
"""
from __future__ import annotations

from typing import ClassVar, Optional

from .params import Params
from .actions import HANDLERS, Action, ActionName
from .fairness import DEFAULT_FAIRNESS, weak
from .raft import RaftSpec
from .scenarios import Script
from .state import (
    FOLLOWER,
    LEADER,
    NIL,
    AppendEntriesRequest,
    Message,
    RequestVoteRequest,
    RequestVoteResponse,
    ServerState,
    State,
    bag_count,
)


class BrokenVariant(RaftSpec):
    """A variant with a known bug: which property breaks, and where to look for it."""

    breaks: ClassVar[str] = ""
    catch_params: ClassVar[Params] = Params()
    quick_params: ClassVar[Optional[Params]] = None
    """Small parameters on which the explorer still catches it in seconds (report's default
    profile); None when its catch needs a search of minutes (only `--profile full` runs it)."""


class VoteWithoutLogCheck(BrokenVariant):
    """A server grants its vote without checking that the candidate's log is up to date."""

    name = "vote-without-log-check"
    description = "a vote is granted without the log up-to-date check"
    breaks = "LeaderCompleteness"
    catch_params = Params(servers=3, values=1, max_term=3, max_log=1, max_copies=1, max_in_flight=1, symmetry=True)
    local_actions = True  # the override reads and changes only its own server and the bag

    def vote_log_ok(self, voter: ServerState, m: RequestVoteRequest) -> bool:
        return True


class VoteNotPersisted(BrokenVariant):
    """A restart forgets the vote cast in the current term, so a server can vote twice."""

    name = "vote-not-persisted"
    description = "the vote is not persisted across a restart"
    breaks = "ElectionSafety"
    catch_params = Params(servers=3, values=1, max_term=2, max_log=0, max_copies=1, max_in_flight=1, symmetry=True)
    quick_params = catch_params  # about 36,000 states
    local_actions = True  # the override reads and changes only its own server and the bag

    def restart(self, s: State, i: int) -> Optional[State]:
        after = super().restart(s, i)
        assert after is not None
        return after.update_server(i, voted_for=NIL)


class CommitPreviousTermByCounting(BrokenVariant):
    """A leader commits an entry of an earlier term as soon as a quorum holds it (Raft paper, figure 8)."""

    name = "commit-previous-term"
    description = "an entry from an earlier term is committed by counting replicas"
    # The figure-8 run needs five terms (the old entry's, a conflicting one's, the term
    # that commits it by counting, and a newer leader without it): the explorer cannot
    # finish these bounds, so the test suite pins a scripted 60-step run instead; guided
    # simulation finds it without the script (tests/test_simulate.py).  The first
    # property it breaks is LeaderCompleteness (StateMachineSafety follows).
    breaks = "LeaderCompleteness"
    catch_params = Params(servers=3, values=1, max_term=5, max_log=1, max_copies=1, max_in_flight=1, symmetry=True)
    local_actions = True  # the override reads and changes only its own server and the bag

    @classmethod
    def scenario(cls) -> list[Action]:
        """The figure-8 run on three servers, up to the leader that lacks the committed entry."""
        x = figure_8(cls)
        x.do(ActionName.Restart, 2)
        x.elect(2, 5, voters=[1])  # S2's term 3 entry is newer than S1's term 2 one: S1 votes for it
        return x.actions

    def advance_commit_index(self, s: State, i: int) -> Optional[State]:
        leader = s.servers[i]
        if leader.role != LEADER:
            return None
        agree = self.agree_indexes(leader, i)
        return s.update_server(i, commit_index=max(agree) if agree else leader.commit_index)


class AcceptStaleTerm(BrokenVariant):
    """A follower accepts AppendEntries from a leader of an older term."""

    name = "accept-stale-term"
    description = "a follower accepts entries from a stale term"
    # The follower still checks the previous entry, so LogMatching survives; what breaks
    # first is that it takes the stale leader's commit index and serves a read of an
    # entry no quorum holds.
    breaks = "NoUncommittedRead"
    catch_params = Params(servers=3, values=1, max_term=3, max_log=1, max_copies=1, max_in_flight=1, symmetry=True)
    local_actions = True  # the override reads and changes only its own server and the bag

    def handle_append_entries_request(self, s: State, m: AppendEntriesRequest) -> Optional[State]:
        f = s.servers[m.mdest]
        if m.mterm < f.current_term and f.role == FOLLOWER and self.append_log_ok(f, m):
            return self.accept_append_entries(s, m)
        return super().handle_append_entries_request(s, m)


class NonMajorityQuorum(BrokenVariant):
    """Half of the servers counts as a quorum, so two halves can elect two leaders."""

    name = "non-majority-quorum"
    description = "a quorum that is not a majority (half the servers)"
    breaks = "ElectionSafety"
    catch_params = Params(servers=2, values=1, max_term=2, max_log=0, max_copies=1, max_in_flight=1)
    quick_params = catch_params
    local_actions = True  # the override reads and changes only its own server and the bag

    def is_quorum(self, members: frozenset[int]) -> bool:
        return 2 * len(members) >= self.params.servers


class StaleResponseCounted(BrokenVariant):
    """A candidate counts a vote granted in an older term (the stale response is not dropped)."""

    name = "stale-vote-counted"
    description = "a vote response from an older term is counted"
    breaks = "ElectionSafety"
    # Two servers suffice when two stale grants can wait in the network (about 5x
    # fewer states than three servers with one message in flight; same length, 18).
    catch_params = Params(servers=2, values=1, max_term=3, max_log=0, max_copies=1, max_in_flight=2, symmetry=True)
    # One message in flight suffices for a (longer) counterexample, in about 4,300 states.
    quick_params = Params(servers=2, values=1, max_term=3, max_log=0, max_copies=1, max_in_flight=1, symmetry=True)
    local_actions = True  # the override reads and changes only its own server and the bag

    def drop_stale_response(self, s: State, m: Message) -> Optional[State]:
        i = m.mdest
        srv = s.servers[i]
        if isinstance(m, RequestVoteResponse) and m.mterm < srv.current_term:
            granted = srv.votes_granted | {m.msource} if m.mvote_granted else srv.votes_granted
            return s.update_server(i, votes_responded=srv.votes_responded | {m.msource}, votes_granted=granted).without_message(m)
        return super().drop_stale_response(s, m)


def figure_8(cls: type[RaftSpec]) -> Script:
    """The Raft paper's figure 8 on three servers, up to the commit of an old entry by counting."""
    x = Script(cls(Params(servers=3, values=1, max_term=5, max_log=1, max_copies=1, max_in_flight=1)))
    x.elect(0, 2, voters=[1])  # S0 leads term 2 and takes an entry it does not replicate
    x.do(ActionName.ClientRequest, 0, 0)
    x.elect(2, 3, voters=[1])  # S2 leads term 3 (S1's log is empty) and takes another
    x.do(ActionName.ClientRequest, 2, 0)
    x.do(ActionName.Restart, 0)
    x.elect(0, 4, voters=[1])  # S0 leads term 4 and copies its term 2 entry to S1
    x.replicate(0, 1)
    x.do(ActionName.AdvanceCommitIndex, 0)  # the bug commits it: a quorum holds it, but it is from term 2
    return x


VARIANTS: dict[str, type[BrokenVariant]] = {
    cls.name: cls
    for cls in (
        VoteWithoutLogCheck,
        VoteNotPersisted,
        CommitPreviousTermByCounting,
        AcceptStaleTerm,
        NonMajorityQuorum,
        StaleResponseCounted,
    )
}
"""Every shipped broken variant, by name (`leaderfollower check --spec NAME`)."""


# ------------------------------------------------------------------ liveness
# Variants that keep every safety property but break a liveness property of
# spec/properties.py under the spec's fairness (checker/liveness/ catches them with a lasso).


class LivenessVariant(BrokenVariant):
    """A variant whose bug only a liveness property catches: on the default model, and quickly on tiny."""

    catch_params = Params(servers=3, values=1, max_term=2, max_log=1, max_copies=1, max_in_flight=1, symmetry=True)
    quick_params = Params(servers=2, values=1, max_term=2, max_log=1, max_copies=1, max_in_flight=1)


class SilentFollower(LivenessVariant):
    """A follower that already holds a request's entries applies its commit index but never answers."""

    name = "silent-follower"
    description = "a follower never answers an AppendEntries request it has nothing to add from"
    breaks = "EntryCommitsOrLeaderStepsDown"
    local_actions = True  # the override reads and changes only the recipient and the bag

    def accept_append_entries(self, s: State, m: AppendEntriesRequest) -> Optional[State]:
        t = super().accept_append_entries(s, m)
        if t is not None and len(t.messages) == len(s.messages) and bag_count(t.messages, m) < bag_count(s.messages, m):
            # The "already done" branch replied: keep its commit index, send nothing.
            return s.update_server(m.mdest, commit_index=m.mcommit_index).without_message(m)
        return t


class CommitNotSent(LivenessVariant):
    """A leader's AppendEntries requests never carry its commit index (always 0)."""

    name = "commit-not-sent"
    description = "a leader never tells its followers how far it has committed"
    breaks = "CommitReachesFollower"
    local_actions = True  # the override reads and changes only the leader and the bag

    def append_entries(self, s: State, i: int, j: int) -> Optional[State]:
        t = super().append_entries(s, i, j)
        if t is None:
            return None
        (m,) = [m for m, count in t.messages if bag_count(s.messages, m) < count]
        assert isinstance(m, AppendEntriesRequest)
        return s.with_message(m._replace(mcommit_index=0))


class LossyDelivery(LivenessVariant):
    """raft.tla with delivery only weakly fair: the network may lose every copy of a message forever."""

    name = "lossy-delivery"
    description = "message delivery only weakly fair (a message lost each time it is sent is never handled)"
    breaks = "EntryCommitsOrLeaderStepsDown"
    fairness = tuple(weak(f.action) if f.action in {row.name for row in HANDLERS} else f for f in DEFAULT_FAIRNESS)


LIVENESS_VARIANTS: dict[str, type[BrokenVariant]] = {cls.name: cls for cls in (SilentFollower, CommitNotSent, LossyDelivery)}
"""Shipped variants that break a liveness property only (`leaderfollower check --spec NAME`)."""
