"""How long a parametric proof's Z3 queries may run: deterministic resource limits, and a wall clock as a net.

How this works: Z3 counts its work in resource units (`rlimit count` in a
solver's statistics: one per unit of its inner loops, independent of the machine
and its load), and a solver with `rlimit` set gives up with `unknown` ("canceled")
once a check has used that many units beyond the count at its start.  The parametric
proof bounds each query by such a budget, so the same encoding gives the same
proved/unknown verdicts on a quiet and on a starved machine; the wall-clock timeout
stays as a generous safety net (a query past it is `unknown` as before, so a
verdict can still depend on the load, but only for a query far beyond its budget).

The budgets were calibrated on the hardest obligations of the log-safety proof
(docs/performance-z3.md, "Deterministic budgets"): `Obligation.rlimit` records, per
obligation, the units of its largest decided query, and the defaults leave a margin
over the largest seen.  Z3's work on one query can still vary a little with the
terms the process built before it (their ids order some of Z3's choices), which the
margin covers: in one process with the same obligations in the same order the count
is exactly reproducible.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import z3

DEFAULT_RLIMIT = 20_000_000
"""Resource units of one full query of a lemma obligation (calibrated: 4.5x the largest decided one of the
log-safety proof, 4.45 million)."""

IMPLIED_RLIMIT = 60_000_000
"""Resource units of a query of an `Implied` obligation (the whole invariant as hypotheses): 16 and 18 million
were used by the decided ones, so the lemma obligations' budget would leave no margin."""

QUICK_RLIMIT = 6_000_000
"""Resource units of the plain query tried before the witnessed one (most obligations prove within it)."""

FINITE_RLIMIT = 20_000_000
"""Resource units of each size's search for a finite counterexample."""

SAFETY_NET_MS = 900_000
"""The wall-clock limit of one query when a resource budget bounds it: only a safety net (15 minutes)."""


@dataclass(frozen=True)
class Budget:
    """Per-query limits of a parametric proof: resource units (deterministic) and wall clock (a safety net).

    An rlimit of 0 leaves that kind of query bounded by the wall clock only (`timeout_ms`)."""

    rlimit: int = DEFAULT_RLIMIT
    implied_rlimit: int = IMPLIED_RLIMIT
    quick_rlimit: int = QUICK_RLIMIT
    finite_rlimit: int = FINITE_RLIMIT
    timeout_ms: int = SAFETY_NET_MS

    @classmethod
    def scaled(cls, rlimit: int) -> "Budget":
        """The default budget with `rlimit` units per full query: an Implied query gets as many times more as by
        default, the quick try and the finite search no more than the full query (nor than their defaults)."""
        return cls(
            rlimit=rlimit,
            implied_rlimit=IMPLIED_RLIMIT // DEFAULT_RLIMIT * rlimit,
            quick_rlimit=min(rlimit, QUICK_RLIMIT),
            finite_rlimit=min(rlimit, FINITE_RLIMIT),
        )

    def describe(self) -> str:
        """One line: the budgets as the output prints them."""
        if not self.rlimit:
            return f"{self.timeout_ms / 1000:g} s per Z3 query"
        return (f"rlimit {self.rlimit:,} per Z3 query (Implied {self.implied_rlimit:,}, quick {self.quick_rlimit:,}), "
                f"wall-clock net {self.timeout_ms / 1000:g} s")


@dataclass
class Meter:
    """The resource units of the decided queries (sat or unsat) of one obligation: the largest, and the total."""

    largest: int = 0
    total: int = 0

    def record(self, used: int, decided: bool) -> None:
        """Count one query's units; only a decided query sets the largest (what a budget must cover)."""
        self.total += used
        if decided:
            self.largest = max(self.largest, used)


def new_solver(rlimit: int, timeout_ms: int) -> z3.Solver:
    """A solver with the given limits (an rlimit of 0: none)."""
    s = z3.Solver()
    if rlimit:
        s.set("rlimit", rlimit)
    s.set("timeout", timeout_ms)
    return s


def rlimit_count(s: z3.Solver) -> int:
    """The context's resource count now, read through the solver's statistics (cumulative over its checks)."""
    stats = s.statistics()
    return int(stats.get_key_value("rlimit count")) if "rlimit count" in stats.keys() else 0


def metered_check(s: z3.Solver, meter: Meter, rlimit: int = -1) -> z3.CheckSatResult:
    """`s.check()`, its resource units recorded in the meter (`rlimit`: set it first, unless negative)."""
    if rlimit >= 0:
        s.set("rlimit", rlimit)
    before = rlimit_count(s)
    res = s.check()
    meter.record(rlimit_count(s) - before, res != z3.unknown)
    return res


def check_with(fs: Sequence[z3.BoolRef], rlimit: int, timeout_ms: int, meter: Meter) -> z3.CheckSatResult:
    """Whether the formulas are satisfiable, within the limits, recorded in the meter."""
    s = new_solver(rlimit, timeout_ms)
    s.add(*fs)
    return metered_check(s, meter)


def unknown_reason(s: z3.Solver, rlimit: int) -> str:
    """Why a full query (of `rlimit` units) answered unknown, naming the budget when it was the resource limit."""
    reason = str(s.reason_unknown())
    if rlimit and reason in ("canceled", "max. resource limit exceeded"):
        return f"resource limit ({rlimit:,} units) reached"
    return reason
