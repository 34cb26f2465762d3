"""Broken implementations the conformance and validation engines must catch.

How this works: a mutant is the real implementation with one bug, made by
subclassing `RaftCore` or `Storage` and overriding one of their documented seams
(`vote_log_ok`, `rejects_append_entries`, `applicable_index`, `save_hard_state`),
the way the spec's broken variants (spec/variants.py) override one spec action.
Nothing of it lives in `impl/`: a real run cannot turn a bug on.  An
`Implementation` names the core and storage classes a harness builds nodes from;
`REAL` is the implementation itself, `MUTANTS` the broken ones by name.
"""
from __future__ import annotations

from typing import NamedTuple

from leaderfollower.impl.core import RaftCore
from leaderfollower.impl.messages import AppendEntriesRequest, FOLLOWER, HardState, RequestVoteRequest
from leaderfollower.impl.storage import STATE_FILE, STATE_TMP, Storage, encode_hard_state


class Implementation(NamedTuple):
    """The classes a harness builds a node from: its protocol core and its storage."""

    core: type[RaftCore]
    storage: type[Storage]


REAL = Implementation(RaftCore, Storage)
"""The implementation as it ships."""


class VoteWithoutLogCheck(RaftCore):
    """Grants a vote without checking that the candidate's log is at least as up to date."""

    def vote_log_ok(self, m: RequestVoteRequest) -> bool:
        return True


class AcceptStaleTerm(RaftCore):
    """A follower accepts AppendEntries from a leader of an older term (when its log matches)."""

    def rejects_append_entries(self, m: AppendEntriesRequest, log_ok: bool) -> bool:
        if m.mterm < self.current_term and self.role == FOLLOWER and log_ok:
            return False
        return super().rejects_append_entries(m, log_ok)


class ApplyBeforeCommit(RaftCore):
    """Hands entries to the state machine as soon as they are in the log, committed or not."""

    def applicable_index(self) -> int:
        return len(self.log)


class VoteNotFsynced(Storage):
    """Writes the term and vote without fsync (neither the file nor the folder): a crash can lose a vote."""

    def save_hard_state(self, hard: HardState) -> None:
        self.files.create(STATE_TMP, encode_hard_state(hard))
        self.files.rename(STATE_TMP, STATE_FILE)


class Mutant(NamedTuple):
    """A named broken implementation and what is wrong with it."""

    description: str
    impl: Implementation


MUTANTS: dict[str, Mutant] = {
    "vote-without-log-check": Mutant(VoteWithoutLogCheck.__doc__ or "", Implementation(VoteWithoutLogCheck, Storage)),
    "vote-not-fsynced": Mutant(VoteNotFsynced.__doc__ or "", Implementation(RaftCore, VoteNotFsynced)),
    "accept-stale-term": Mutant(AcceptStaleTerm.__doc__ or "", Implementation(AcceptStaleTerm, Storage)),
    "apply-before-commit": Mutant(ApplyBeforeCommit.__doc__ or "", Implementation(ApplyBeforeCommit, Storage)),
}
"""The broken implementations by name (`leaderfollower conform --bug NAME`)."""


class UnknownMutant(ValueError):
    """A mutant name that is not in `MUTANTS`."""


def implementation(bugs: tuple[str, ...] | list[str] = ()) -> Implementation:
    """The implementation with the named bugs (at most one core and one storage bug); REAL for none."""
    core, storage = REAL
    for name in bugs:
        mutant = MUTANTS.get(name)
        if mutant is None:
            raise UnknownMutant(f"unknown seeded bug {name!r}; known: {', '.join(sorted(MUTANTS))}")
        if mutant.impl.core is not RaftCore:
            if core is not RaftCore and core is not mutant.impl.core:
                raise UnknownMutant(f"seeded bugs {', '.join(bugs)}: at most one bug of the core at a time")
            core = mutant.impl.core
        if mutant.impl.storage is not Storage:
            storage = mutant.impl.storage
    return Implementation(core, storage)
