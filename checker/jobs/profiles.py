"""Profiles of `verify` and `report`: how deep each engine goes, by name.

How this works: a `Profile` is a set of engine options (the same keys as a
config's `[verify]` table) and the broken variants' search settings for
`report`.  `default` is for a laptop and a CI job: every engine runs, each to a
depth that fits the whole job in a few minutes on a 2-core machine, and each
engine's row says what it covered (BMC: the depth; conformance: how many
transitions of how many; the inductive proofs: which ones).  `full` is the
nightly run: IC3 to every depth, every inductive proof, every transition
replayed, every variant on its catch parameters.  A config's `[verify]` table
and the command line's flags override a profile's options, key by key.

The figures these settings were chosen by are in README.md and docs/ci.md,
measured with `benchmarks/profiles_bench.py`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass(frozen=True)
class Profile:
    """How deep each engine of `verify` (and `report`'s broken variants) goes."""

    name: str
    description: str
    options: dict[str, Any] = field(default_factory=dict)
    """Engine options, as in a config's `[verify]` table (flags and the config override them)."""
    variant_params: str = "catch"
    """`report`'s variants: on each variant's `quick_params` ("quick") or its `catch_params` ("catch")."""
    variant_max_states: Optional[int] = None
    """`report`'s state budget per variant search (None: the report's own default)."""
    variant_simulate_seconds: Optional[float] = None
    """`report`'s simulation time box for a variant the explorer did not catch (None: the report's own default)."""


FAST_PROOFS: tuple[str, ...] = ("ElectionSafety", "LogMatching")
"""The inductive proofs the default profile runs: the ones that take seconds, not minutes, here."""

DEFAULT_BMC_DEPTH = 14
"""The default profile's BMC depth: a few seconds of Z3 on the default model."""

DEFAULT_CONFORM_SAMPLE = 10000
"""The default profile's conformance sample: transitions replayed (besides one per action)."""

DEFAULT_SIMULATE_SECONDS = 10.0
"""The default profile's time box for the simulation engine."""

PROFILES: dict[str, Profile] = {
    "default": Profile(
        "default",
        "every engine, bounded to finish in minutes: BMC to a moderate depth, the fast inductive proofs, "
        "conformance of one transition per action and a sample, a short simulation, broken variants on "
        "small parameters (the others left to a short simulation)",
        options={
            "z3_engine": "bmc",
            "z3_depth": DEFAULT_BMC_DEPTH,
            "z3_proofs": FAST_PROOFS,
            "conform_sample": DEFAULT_CONFORM_SAMPLE,
            "simulate_seconds": DEFAULT_SIMULATE_SECONDS,
        },
        variant_params="quick",
        variant_max_states=300_000,
        variant_simulate_seconds=DEFAULT_SIMULATE_SECONDS,
    ),
    "full": Profile(
        "full",
        "the nightly run: IC3 to every depth, every inductive proof, every transition replayed, "
        "the simulation's own budget, broken variants on their catch parameters",
        options={"z3_engine": "ic3"},
        variant_params="catch",
        variant_max_states=None,
    ),
}
"""The profiles by name; `default` is used when none is named."""


class ProfileError(ValueError):
    """An unknown profile name; the message lists the known ones."""


def get_profile(name: Optional[str]) -> Profile:
    """The named profile (None: the default one)."""
    key = name or "default"
    if key not in PROFILES:
        raise ProfileError(f"unknown profile {key!r}; known: {', '.join(PROFILES)}")
    return PROFILES[key]
