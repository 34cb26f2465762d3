"""Model parameters: the constants and the state constraint of a model run.

How this works: `Params` holds raft.tla's constants (how many servers and values),
the bounds that act as a TLC state CONSTRAINT (a successor that violates them is not
stored, counted, checked or explored), and the named options that deviate from
raft.tla (all off by default; `docs/differences.md` lists them).  `PRESETS` names
the configurations that tests, `check` and the nightly runs use.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class Params:
    """The constants, bounds and options of one model."""

    servers: int = 3
    """Number of servers (raft.tla's `Server` has this many elements)."""
    values: int = 1
    """Number of distinct client values (raft.tla's `Value`)."""
    max_term: int = 2
    """Bound: every `current_term` is at most this."""
    max_log: int = 1
    """Bound: every log is at most this long."""
    max_copies: int = 1
    """Bound: copies of any one message in the bag."""
    max_in_flight: int = 1
    """Bound: distinct messages in the bag."""
    symmetry: bool = False
    """Store one state per orbit under permutations of server identities."""
    max_entries_per_append: int = 1
    """Option (raft.tla: 1): entries a leader may put in one AppendEntries request."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type in ("int", int) and (not isinstance(value, int) or isinstance(value, bool)):
                raise ValueError(f"parameter {f.name}: expected an integer, got {value!r}")
            if f.type in ("bool", bool) and not isinstance(value, bool):
                raise ValueError(f"parameter {f.name}: expected true or false, got {value!r}")
        minimums = {
            "servers": 1,
            "values": 1,
            "max_term": 1,
            "max_log": 0,
            "max_copies": 1,
            "max_in_flight": 0,
            "max_entries_per_append": 1,
        }
        for name, low in minimums.items():
            if getattr(self, name) < low:
                raise ValueError(f"parameter {name}: expected at least {low}, got {getattr(self, name)}")
        if self.servers > 7:
            raise ValueError(f"parameter servers: expected at most 7, got {self.servers}")

    def to_dict(self) -> dict[str, Any]:
        """The parameters as a plain dict (for JSON documents)."""
        return asdict(self)

    def describe(self) -> str:
        """A one-line human summary."""
        parts = [
            f"servers={self.servers}",
            f"values={self.values}",
            f"max_term={self.max_term}",
            f"max_log={self.max_log}",
            f"max_copies={self.max_copies}",
            f"max_in_flight={self.max_in_flight}",
            f"symmetry={'on' if self.symmetry else 'off'}",
        ]
        if self.max_entries_per_append != 1:
            parts.append(f"max_entries_per_append={self.max_entries_per_append}")
        return " ".join(parts)


PRESETS: dict[str, Params] = {
    # Quick runs and the test suite.
    "tiny": Params(servers=2, values=1, max_term=2, max_log=1, max_copies=1, max_in_flight=1),
    "small": Params(servers=3, values=1, max_term=2, max_log=0, max_copies=1, max_in_flight=1, symmetry=True),
    # The default: three servers with room for one entry to replicate and commit.
    "default": Params(servers=3, values=1, max_term=2, max_log=1, max_copies=1, max_in_flight=1, symmetry=True),
    # The TLC comparison run (about 1.9 million states, no symmetry).
    "full": Params(servers=3, values=1, max_term=2, max_log=1, max_copies=1, max_in_flight=1, symmetry=False),
    # Nightly: deeper terms, longer logs, two messages in flight.
    "nightly": Params(servers=3, values=1, max_term=3, max_log=1, max_copies=1, max_in_flight=1, symmetry=True),
    # Logs of 2: 67.9 million states (orbits); `--workers 2 --no-graph` took 34 min and 7.8 GB a shard.
    "nightly-wide": Params(servers=3, values=1, max_term=2, max_log=2, max_copies=1, max_in_flight=2, symmetry=True),
    # The next size, for the partitioned search: nightly with two client values, 31.1 million
    # states (orbits); `check --preset large --workers 2 --no-graph` took 9-10 min on 2 cores.
    "large": Params(servers=3, values=2, max_term=3, max_log=1, max_copies=1, max_in_flight=1, symmetry=True),
    # Four servers, elections only (no room for an entry): a quorum is 3 of 4, so a quorum
    # rule off by one, which three servers hide (2 of 3 is a majority either way), shows.
    # 36.6 million states (orbits); `--workers 2 --no-graph` took 12-15 min and about 4 GB a shard.
    "four": Params(servers=4, values=1, max_term=2, max_log=0, max_copies=1, max_in_flight=1, symmetry=True),
}
"""Named configurations: `leaderfollower check --preset NAME`."""
