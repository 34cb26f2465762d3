"""Run configurations: TOML files and presets, validated strictly.

How this works: a config file has a `[model]` table (a `preset` to start from and
any `Params` field to override) and a `[verify]` table (the spec to check and the
engines to run).  Every key is checked: an unknown key, a wrong type or an
impossible bound is a `ConfigError` whose one-line message names the file, the key
and what was expected.

    [model]
    preset = "default"
    max_term = 2
    symmetry = true

    [verify]
    spec = "raft"
    engines = ["explorer", "z3-bounded", "z3-inductive", "conformance"]
    z3_engine = "ic3"        # or "bmc"
    z3_seconds = 1800        # IC3's budget
    simulate_seconds = 60    # the simulation engine's budget
    simulate_strategy = "guided"
    z3_depth = 17            # BMC's depth; IC3 stops at it if given
    z3_proofs = ["ElectionSafety"]   # the inductive proofs to run (default: every one)
    conform_sample = 2000    # conformance: one transition per action and this many more (default: all)

A profile (`checker/jobs/profiles.py`, `verify --profile`) gives defaults for these
options; the `[verify]` table and the flags override them.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Optional

from leaderfollower.spec.params import PRESETS, Params

ENGINES: tuple[str, ...] = ("explorer", "simulation", "z3-bounded", "z3-inductive", "conformance")
"""Every engine `verify` can run, in the order it runs them."""

Z3_ENGINES: tuple[str, ...] = ("ic3", "bmc")
"""The Z3 bounded engines of `prove` and of verify's z3-bounded: IC3 (the default: the
shortest violation, or a proof at every depth of the bounded model) or BMC."""

Z3_BOUNDED_DEPTH = 17
"""Default depth of the bmc engine (verify caps it at the explored graph's diameter).
The default model's diameter, 52, is out of BMC's reach: each step costs 2x to 4x the
one before; 17 steps take about 33 s of CPU on the default model, 18 about two
minutes (docs/performance-z3.md).  IC3 covers every depth instead."""

Z3_IC3_SECONDS = 1800.0
"""Default time budget of the ic3 engine.  It proves every always property of the
default model at every depth in 8 to 12 minutes here (docs/performance-z3.md); a run
cut short reports the depth it cleared."""


SIMULATE_SECONDS = 60.0
"""Default time budget of verify's simulation engine (all cores)."""


class ConfigError(Exception):
    """A configuration is invalid; the message is one line naming the key and the expectation."""


@dataclass(frozen=True)
class RunConfig:
    """What a `verify` run checks: the model, the spec and the engines."""

    params: Params
    spec: str = "raft"
    engines: Optional[tuple[str, ...]] = None
    """None: every engine this build has."""
    preset: Optional[str] = "default"
    options: dict[str, Any] = field(default_factory=dict)
    """Engine options from `[verify]`: z3_engine, z3_depth, z3_seconds, workers, simulate_seconds, simulate_strategy, simulate_seed."""


_PARAM_TYPES = {f.name: f.type for f in fields(Params)}


def _type_name(t: Any) -> str:
    return {"int": "an integer", "bool": "true or false", int: "an integer", bool: "true or false"}.get(t, str(t))


def params_from_table(table: dict[str, Any], where: str, base: Params) -> Params:
    """`base` with the table's keys applied; every key and value checked."""
    values = base.to_dict()
    for key, value in table.items():
        if key == "preset":
            continue
        if key not in _PARAM_TYPES:
            raise ConfigError(f"{where}: unknown key {key!r}; expected one of preset, {', '.join(_PARAM_TYPES)}")
        expected = _PARAM_TYPES[key]
        is_bool = expected in ("bool", bool)
        if is_bool and not isinstance(value, bool):
            raise ConfigError(f"{where}: {key} = {value!r}: expected {_type_name(expected)}")
        if not is_bool and (not isinstance(value, int) or isinstance(value, bool)):
            raise ConfigError(f"{where}: {key} = {value!r}: expected {_type_name(expected)}")
        values[key] = value
    try:
        return Params(**values)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


VERIFY_OPTIONS: tuple[str, ...] = (
    "z3_engine", "z3_depth", "z3_seconds", "workers", "z3_proofs", "conform_sample", "simulate_seconds", "simulate_strategy", "simulate_seed"
)
"""Engine options a `[verify]` table (or verify's flags) may set."""


def verify_options(table: dict[str, Any], where: str, flags: bool = False) -> dict[str, Any]:
    """The engine options of a `[verify]` table or (`flags`) of verify's command line, each value checked."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        if value is None:
            continue
        shown = f"--{key.replace('_', '-')} {value}" if flags else f"{key} = {value!r}"
        if key == "z3_engine":
            if value not in Z3_ENGINES:
                raise ConfigError(f"{where}: {shown}: expected one of {', '.join(Z3_ENGINES)}")
        elif key == "z3_proofs":
            from leaderfollower.checker.z3.lemmas import PROOFS

            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v in PROOFS for v in value):
                raise ConfigError(f"{where}: {shown}: expected a list of proof names from {', '.join(PROOFS)}")
            value = tuple(value)
        elif key == "simulate_strategy":
            from leaderfollower.checker.simulate.strategies import STRATEGIES

            if value not in STRATEGIES:
                raise ConfigError(f"{where}: {shown}: expected one of {', '.join(STRATEGIES)}")
        elif key in ("z3_depth", "workers", "conform_sample", "simulate_seed"):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{where}: {shown}: expected a non-negative integer")
        elif key in ("z3_seconds", "simulate_seconds"):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"{where}: {shown}: expected a positive number of seconds")
            value = float(value)
        else:
            raise ConfigError(f"{where}: unknown option {key!r}; expected one of {', '.join(VERIFY_OPTIONS)}")
        out[key] = value
    return out


def load_config(path: Path) -> RunConfig:
    """Read and validate a TOML run configuration."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    unknown = set(doc) - {"model", "verify"}
    if unknown:
        raise ConfigError(f"{path}: unknown table {sorted(unknown)[0]!r}; expected [model] and [verify]")
    model = doc.get("model", {})
    if not isinstance(model, dict):
        raise ConfigError(f"{path}: model must be a table")
    preset = model.get("preset", "default")
    if not isinstance(preset, str) or preset not in PRESETS:
        raise ConfigError(f"{path}: [model] preset = {preset!r}: expected one of {', '.join(PRESETS)}")
    params = params_from_table(model, f"{path}: [model]", PRESETS[preset])
    verify = doc.get("verify", {})
    if not isinstance(verify, dict):
        raise ConfigError(f"{path}: verify must be a table")
    for key in verify:
        if key not in ("spec", "engines", *VERIFY_OPTIONS):
            raise ConfigError(f"{path}: [verify] unknown key {key!r}; expected spec, engines, {', '.join(VERIFY_OPTIONS)}")
    options = verify_options({k: v for k, v in verify.items() if k in VERIFY_OPTIONS}, f"{path}: [verify]")
    spec = verify.get("spec", "raft")
    if not isinstance(spec, str) or not spec:
        raise ConfigError(f"{path}: [verify] spec = {spec!r}: expected a spec name or FILE.py:Class")
    engines = verify.get("engines")
    if engines is None:
        return RunConfig(params=params, spec=spec, engines=None, preset=preset, options=options)
    if not isinstance(engines, list) or not all(isinstance(e, str) for e in engines):
        raise ConfigError(f"{path}: [verify] engines: expected a list of engine names ({', '.join(ENGINES)})")
    for e in engines:
        if e not in ENGINES:
            raise ConfigError(f"{path}: [verify] engines: unknown engine {e!r}; expected some of {', '.join(ENGINES)}")
    return RunConfig(params=params, spec=spec, engines=tuple(e for e in ENGINES if e in engines), preset=preset, options=options)


def parse_engines(text: str) -> tuple[str, ...]:
    """A comma-separated engine list from the command line, validated."""
    names = [e.strip() for e in text.split(",") if e.strip()]
    for e in names:
        if e not in ENGINES:
            raise ConfigError(f"--engines: unknown engine {e!r}; expected some of {', '.join(ENGINES)}")
    if not names:
        raise ConfigError(f"--engines: expected at least one of {', '.join(ENGINES)}")
    return tuple(e for e in ENGINES if e in names)
