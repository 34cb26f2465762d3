"""The `verify` job: every engine on one model, one verdict, one result document.

How this works: each engine is an `Engine`: a name and a `run` from a
`VerifyContext` to an `EngineOutcome` (per-property `Status`es, figures, seconds).
`run_verify` runs the selected engines (checker/jobs/verify_side.py: in order,
the explorer first, as the Z3 bounded depth and the conformance cover are taken
from its graph; with two cores or more, the engines that need nothing of it in a
second process beside the others) and assembles the result document,
whose format is versioned and described in `docs/result-format.md`.  The same
document feeds `--junit`, `--baseline` and the HTML report.
"""
from __future__ import annotations

import datetime as _dt
import platform
import time
from importlib import metadata
from typing import Any, Callable, Optional
from xml.sax.saxutils import escape, quoteattr

from leaderfollower.spec.properties import LIVENESS_KINDS
from leaderfollower.spec.raft import RaftSpec

from leaderfollower.checker.jobs.check import summarise, with_liveness
from leaderfollower.checker.explore.search import explore
from leaderfollower.checker.jobs.engine import Engine, EngineOutcome, FunctionEngine, VerifyContext
from leaderfollower.checker.jobs.fingerprint import spec_fingerprint
from leaderfollower.checker.jobs.status import GOOD_STATUSES, Status
from leaderfollower.checker.explore.traces import finding_trace, format_finding, format_trace
from leaderfollower.checker.liveness.lasso import format_lasso

RESULT_FORMAT = "leaderfollower-result"
RESULT_VERSION = 1



def explorer_engine(ctx: VerifyContext) -> EngineOutcome:
    """Exhaustive BFS of the model: every property on every reachable state within bounds."""
    start = time.perf_counter()
    progress = ctx.progress("explorer") if ctx.progress else None
    result = with_liveness(explore(ctx.spec, keep_graph=True, stop_on_violation=False, progress=progress))
    ctx.explored = result
    doc = summarise(result)
    props: dict[str, dict[str, Any]] = {}
    lassos = {o.property.name: o for o in result.liveness if o.lasso is not None}
    for row in doc["properties"]:
        entry: dict[str, Any] = {"kind": row["kind"], "status": Status(row["status"])}
        if "depth" in row:
            entry["depth"] = row["depth"]
        if "why" in row and row["kind"] in LIVENESS_KINDS:
            entry["why"] = row["why"]
        if row["name"] in lassos:
            o = lassos[row["name"]]
            assert o.lasso is not None
            entry["trace_length"] = len(o.lasso.trace) - 1
            entry["loop"] = o.lasso.loop
            entry["detail"] = f"{o.why}\n{format_lasso(o.lasso)}"
        elif row["status"] == Status.VIOLATED:
            finding = next(f for f in result.violations if f.property == row["name"])
            ft = finding_trace(result, finding)
            entry["trace_length"] = ft.steps
            entry["detail"] = format_finding(ft)
        props[row["name"]] = entry
    covered = sum(1 for c in doc["coverage"].values() if c["within_bounds"])
    figures = {
        "distinct_states": doc["distinct_states"],
        "transitions": doc["transitions"],
        "diameter": doc["diameter"],
        "states_per_second": doc["states_per_second"],
        "states_per_depth": doc["states_per_depth"],
        "deadlocks": doc["deadlocks"],
        "coverage": doc["coverage"],
        "actions_covered": covered,
        "actions_total": len(doc["coverage"]),
        "covered": (
            f"every reachable state within the bounds ({doc['distinct_states']:,})"
            if result.complete
            else f"incomplete ({result.incomplete_because}): {doc['distinct_states']:,} states"
        ),
        "bounded": not result.complete,
    }
    return EngineOutcome("explorer", result.ok, time.perf_counter() - start, props, figures)


def conformance_engine(ctx: VerifyContext) -> EngineOutcome:
    """Replay an edge cover of the explored graph through the real implementation.

    Each property is reported as `conforms` when every transition was replayed with
    the implementation's state equal to the spec's after every step: the explorer's
    verdict on the spec then holds for the implementation's runs too.  With the
    option `conform_sample` (N), only one transition of every action and N more,
    drawn at random (seeded), are replayed, each along its shortest path:
    `conforms-on-sample`, and `covered` says how many of how many transitions.
    """
    from leaderfollower.checker.conform.run import run_trace_replay
    from leaderfollower.checker.explore.cover import sample_walks

    start = time.perf_counter()
    if ctx.explored is None:
        progress = ctx.progress("explorer") if ctx.progress else None
        ctx.explored = explore(ctx.spec, keep_graph=True, stop_on_violation=False, progress=progress)
    sample = ctx.options.get("conform_sample")
    walks = sample_walks(ctx.explored, int(sample))[0] if sample is not None else None
    outcome = run_trace_replay(ctx.explored, workers=int(ctx.options.get("workers", 0)), walks=walks)
    doc = outcome.to_dict()
    everything = outcome.transitions_covered == outcome.transitions
    status = Status.DIVERGED if not outcome.ok else Status.CONFORMS if everything else Status.CONFORMS_ON_SAMPLE
    detail = "; ".join(f"step {d['step']} {d['action']}: {' | '.join(d['problems'])}" for d in doc["divergences"][:1])
    # Replay shows the code takes the spec's transitions; a liveness property also needs the
    # code's scheduling to be fair, which replay cannot show: those are not listed.
    props = {
        p.name: {"kind": p.kind, "status": status, **({"detail": detail} if detail else {})}
        for p in ctx.explored.properties
        if p.kind not in LIVENESS_KINDS
    }
    figures = {k: v for k, v in doc.items() if k not in ("seconds",)}
    figures["covered"] = (
        f"{outcome.transitions_covered:,} of {outcome.transitions:,} transitions replayed"
        f" ({'a sample: ' if walks is not None else ''}{outcome.actions_covered} of {outcome.actions_total} actions)"
    )
    figures["bounded"] = not everything
    return EngineOutcome("conformance", outcome.ok, time.perf_counter() - start, props, figures)


def z3_bounded_engine(ctx: VerifyContext) -> EngineOutcome:
    """Z3 model checking of every always property on the bounded model (`checker.z3bmc` encoding).

    Options (`[verify]` in a config, or `--z3-*` flags): `z3_engine` is `ic3` (the
    default: `checker.z3pdr`, the shortest violation or a proof at every depth,
    `holds-every-depth`) or `bmc` (unrolled to `z3_depth`, `holds-to-depth`).
    `z3_depth` is BMC's depth (default `config.Z3_BOUNDED_DEPTH`) and, for IC3, a
    frontier to stop at (default: none).  BMC's depth is capped at the explored
    graph's diameter when the explorer ran first, as every reachable state lies
    within it; IC3 is not, as its answer is a proof, which no frontier stands for.
    `z3_seconds` is IC3's budget (default `config.Z3_IC3_SECONDS`); a run cut short
    reports `holds-to-depth` with the frontier it cleared.
    """
    from leaderfollower.checker.jobs.config import Z3_IC3_SECONDS
    from leaderfollower.checker.z3.prove import bmc, ic3
    from leaderfollower.checker.z3.bmc import PROPERTIES as BMC_PROPERTIES

    start = time.perf_counter()
    engine = str(ctx.options.get("z3_engine", "ic3"))
    asked = ctx.options.get("z3_depth")
    kinds = {p.name: p.kind for p in getattr(ctx.spec, "properties", ())}
    figures: dict[str, Any] = {"engine": engine}
    if engine == "bmc":
        depth = bmc_depth(ctx)
        outcomes = bmc(ctx.spec, list(BMC_PROPERTIES), depth)
        figures["depth"] = depth
    else:
        stop = None if asked is None else int(asked)
        seconds = float(ctx.options.get("z3_seconds", Z3_IC3_SECONDS))
        bar = ctx.progress("z3-bounded") if ctx.progress else None

        def frontier(what: str, k: int, total: int) -> None:
            if bar is not None:
                bar(f"IC3 frontier {k}")

        outcomes = ic3(ctx.spec, list(BMC_PROPERTIES), max_depth=stop, seconds=seconds, progress=frontier)
        # The frontier: IC3 found no violation within it (or stopped at the shortest one).
        figures["frontier"] = max(o.depth for o in outcomes)
        if any(o.proved for o in outcomes):
            figures["invariant_clauses"] = max(o.clauses for o in outcomes)
    props: dict[str, dict[str, Any]] = {}
    every = all(Status(o.status) == Status.HOLDS_EVERY_DEPTH for o in outcomes)
    shallowest = min((o.depth for o in outcomes), default=0)
    violated = [o.depth for o in outcomes if Status(o.status) == Status.VIOLATED]
    if violated:
        figures["covered"] = f"a violation within {min(violated)} steps"
    else:
        figures["covered"] = "every depth (IC3 proof)" if every else f"holds to depth {shallowest} (no violation within {shallowest} steps)"
    figures["bounded"] = not every
    for outcome in outcomes:
        entry: dict[str, Any] = {"kind": kinds.get(outcome.property, "always"), "depth": outcome.depth, "status": Status(outcome.status)}
        if outcome.violated and outcome.trace is not None:
            entry["detail"] = format_trace(outcome.trace)
        props[outcome.property] = entry
    ok = all(entry["status"] in GOOD_STATUSES for entry in props.values())
    return EngineOutcome("z3-bounded", ok, time.perf_counter() - start, props, figures)


def bmc_depth(ctx: VerifyContext) -> int:
    """z3-bounded's BMC depth: the option's (or the default), capped at a complete exploration's diameter."""
    from leaderfollower.checker.jobs.config import Z3_BOUNDED_DEPTH

    asked = ctx.options.get("z3_depth")
    depth = int(Z3_BOUNDED_DEPTH if asked is None else asked)
    return depth if ctx.explored is None or not ctx.explored.complete else min(depth, ctx.explored.diameter)


def z3_bounded_reads(ctx: VerifyContext) -> object:
    """What z3-bounded takes from the explorer's result: BMC's capped depth (None with IC3)."""
    return bmc_depth(ctx) if str(ctx.options.get("z3_engine", "ic3")) == "bmc" else None


def z3_inductive_engine(ctx: VerifyContext) -> EngineOutcome:
    """Z3 inductive proofs (`spec.lemmas.PROOFS`) at the model's number of servers, any depth and term.

    `proved` when every (action, lemma) obligation holds; a failed obligation whose
    pre-state the explorer reaches is a real `violated`; otherwise `unproved` (a
    lemma is missing), which fails the run too.
    """
    from leaderfollower.checker.z3.lemmas import PROOFS

    from leaderfollower.checker.z3.prove import explorer_reach, format_cti, prove_inductive

    start = time.perf_counter()
    kinds = {p.name: p.kind for p in getattr(ctx.spec, "properties", ())}
    oracle = explorer_reach(ctx.spec)
    props: dict[str, dict[str, Any]] = {}
    obligations = 0
    chosen = ctx.options.get("z3_proofs")
    names = [name for name in PROOFS if chosen is None or name in chosen]
    for name in names:
        # A proof that leans on a property already shown violated cannot succeed: say so
        # instead of spending its queries' timeouts.
        broken = [dep for dep in PROOFS[name] if props.get(dep, {}).get("status") == Status.VIOLATED]
        if broken:
            props[name] = {
                "kind": kinds.get(name, "always"),
                "status": Status.UNPROVED,
                "detail": f"its proof needs {', '.join(broken)}, which is violated",
            }
            continue
        result = prove_inductive(ctx.spec, name, None, timeout_ms=60_000, reach=oracle)
        obligations += len(result.obligations)
        entry: dict[str, Any] = {"kind": kinds.get(name, "always"), "lemmas": list(result.lemmas)}
        if result.proved:
            entry["status"] = Status.PROVED
        else:
            failed = result.failed
            reachable = [o for o in failed if o.cti is not None and o.cti.reachable]
            entry["status"] = Status.VIOLATED if reachable else Status.UNPROVED
            first = reachable[0] if reachable else failed[0] if failed else None
            if first is not None and first.cti is not None:
                entry["detail"] = f"{first.lemma} / {first.action}:\n" + format_cti(first.cti)
        props[name] = entry
    ok = all(entry["status"] in GOOD_STATUSES for entry in props.values())
    skipped = [name for name in PROOFS if name not in names]
    figures: dict[str, Any] = {
        "obligations": obligations,
        "proofs": len(names),
        "proofs_total": len(PROOFS),
        "covered": f"{len(names)} of {len(PROOFS)} inductive proofs" + (f" (not run: {', '.join(skipped)})" if skipped else ""),
        "bounded": bool(skipped),
    }
    return EngineOutcome("z3-inductive", ok, time.perf_counter() - start, props, figures)


def simulation_engine(ctx: VerifyContext) -> EngineOutcome:
    """Time-boxed walks (`checker.simulate`): violations, shrunk; never a proof.

    Options (`[verify]` or flags): `simulate_seconds` (default
    `config.SIMULATE_SECONDS`), `simulate_strategy` (default: simulate's), `simulate_seed`
    and `workers`.  An always or action property with no violation is
    `no-violation-found`; a sometimes property appears only once witnessed (a walk
    that missed a witness proves nothing either way); the ones missed are listed in
    the figures.  Its figures are named `walks`, `walk_steps`, `states_seen`, so that
    a baseline does not compare them: they depend on the machine's speed.
    """
    from leaderfollower.checker.jobs.config import SIMULATE_SECONDS
    from leaderfollower.checker.simulate.run import default_workers, property_rows, simulate
    from leaderfollower.checker.simulate.strategies import DEFAULT_STRATEGY

    start = time.perf_counter()
    bar = ctx.progress("simulation") if ctx.progress else None
    strategy = str(ctx.options.get("simulate_strategy", DEFAULT_STRATEGY))
    seconds = float(ctx.options.get("simulate_seconds", SIMULATE_SECONDS))
    workers = int(ctx.options.get("workers", 0)) or default_workers()

    def progress(p: Any) -> None:
        if bar is not None:
            bar(f"walks {p.walks:,}  steps {p.steps:,}")

    result = simulate(ctx.spec, strategy=strategy, seconds=seconds, seed=int(ctx.options.get("simulate_seed", 0)), workers=workers, progress=progress)
    props: dict[str, dict[str, Any]] = {}
    missed: list[str] = []
    for row in property_rows(result):
        if row["kind"] in LIVENESS_KINDS:
            continue  # walks are finite: they judge no liveness property
        if row["status"] == "not-witnessed":
            missed.append(row["name"])
            continue
        entry: dict[str, Any] = {"kind": row["kind"], "status": Status(row["status"])}
        if "depth" in row:
            entry["depth"] = row["depth"]
        if row["status"] == "violated" and result.violation is not None:
            entry["trace_length"] = len(result.violation.trace) - 1
            entry["detail"] = format_trace(result.violation.trace)
        props[row["name"]] = entry
    figures = {
        "strategy": strategy,
        "budget_seconds": seconds,
        "walks": result.walks,
        "walk_steps": result.steps,
        "states_seen": result.distinct_states,
        "deepest_walk": result.max_depth,
        "not_witnessed": missed,
        # A time box is never everything: always bounded, and it says how far it went.
        "covered": f"{result.walks:,} walks in a {seconds:g} s time box ({result.distinct_states:,} distinct states seen; not a proof)",
        "bounded": True,
    }
    return EngineOutcome("simulation", result.ok, time.perf_counter() - start, props, figures)


ENGINES: dict[str, Engine] = {
    engine.name: engine
    for engine in (
        FunctionEngine("explorer", explorer_engine),
        FunctionEngine("simulation", simulation_engine, time_boxed=True),
        FunctionEngine("z3-bounded", z3_bounded_engine, independent=True, reads=z3_bounded_reads),
        FunctionEngine("z3-inductive", z3_inductive_engine, independent=True),
        FunctionEngine("conformance", conformance_engine),
    )
}
"""Engine name -> engine; engines added by later modules register here (`register_engine`)."""


def available_engines() -> tuple[str, ...]:
    """The engines this build can run, in run order (the default of `verify`)."""
    from leaderfollower.checker.jobs.config import ENGINES as ORDER

    return tuple(e for e in ORDER if e in ENGINES)


def register_engine(engine: Engine) -> None:
    """Make an engine available to `verify` under its name."""
    ENGINES[engine.name] = engine


def tool_versions() -> dict[str, str]:
    """Versions of the tool, Python and the libraries that decide results."""
    out = {"python": platform.python_version()}
    for dist in ("leaderfollower", "networkx", "z3-solver", "rich", "click"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def run_verify(
    spec: RaftSpec,
    engines: tuple[str, ...],
    *,
    preset: Optional[str] = None,
    progress: Optional[Callable[[str], Callable[[Any], None]]] = None,
    options: Optional[dict[str, Any]] = None,
    profile: Optional[str] = None,
) -> dict[str, Any]:
    """Run the engines and return the result document.

    With two or more `workers` (the option; default: the machine's cores), the
    engines that do not read the explorer's result (`independent`: the Z3 ones) run
    in a second process beside the others (checker/jobs/verify_side.py); the
    document is the same as in order, one after the other (`workers` 1), but for
    the timings.

    `options` are the engine options (a profile's, `checker/jobs/profiles.py`, with
    any overrides); `profile` names the profile in the document.  The document's
    `bounded` lists, per engine that did not cover everything, what it covered.
    A `KeyboardInterrupt` (its `signal_name`, or SIGINT) stops the run: the engines it
    hit (the one under way, and the second process's) are failed as interrupted, the
    rest are listed in `not_run`, and the document (never ok) names the signal in
    `interrupted`.
    """
    ctx = VerifyContext(spec=spec, progress=progress, options=dict(options or {}))
    started = time.perf_counter()
    from leaderfollower.checker.jobs.verify_side import run_engines

    outcomes, interrupted = run_engines(ctx, engines, ENGINES)
    outcomes = {name: outcomes[name] for name in engines if name in outcomes}  # the document lists them in run order
    not_run = [name for name in engines if name not in outcomes]
    properties = []
    names: list[str] = []
    kinds: dict[str, str] = {}
    for outcome in outcomes.values():
        for pname, entry in outcome.properties.items():
            if pname not in kinds:
                names.append(pname)
                kinds[pname] = entry.get("kind", "always")
    for pname in names:
        per_engine = {e: o.properties[pname]["status"] for e, o in outcomes.items() if pname in o.properties}
        properties.append(
            {"name": pname, "kind": kinds[pname], "results": per_engine, "ok": all(s in GOOD_STATUSES for s in per_engine.values())}
        )
    return {
        "format": RESULT_FORMAT,
        "version": RESULT_VERSION,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "spec": {"name": spec.name, "description": spec.description, "fingerprint": spec_fingerprint(type(spec))},
        "preset": preset,
        "profile": profile,
        "params": spec.params.to_dict(),
        "tool": tool_versions(),
        "ok": interrupted is None and all(o.ok for o in outcomes.values()) and all(p["ok"] for p in properties),
        "engines": {name: o.to_dict() for name, o in outcomes.items()},
        "properties": properties,
        "bounded": [f"{name}: {o.figures['covered']}" for name, o in outcomes.items() if o.figures.get("bounded")],
        "interrupted": interrupted,
        "not_run": not_run,
        "timings": {"total_seconds": round(time.perf_counter() - started, 3), **{n: round(o.seconds, 3) for n, o in outcomes.items()}},
    }


# ------------------------------------------------------------------- JUnit


def to_junit(doc: dict[str, Any]) -> str:
    """JUnit XML: one test suite per engine, one test case per property."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>']
    total = sum(len(e["properties"]) or 1 for e in doc["engines"].values())
    failures = 0
    suites = []
    for engine, section in doc["engines"].items():
        cases = []
        suite_failures = 0
        props = section["properties"]
        if not props:
            suite_failures += 1
            msg = section.get("error", "engine produced no results")
            cases.append(
                f'    <testcase classname="leaderfollower.{engine}" name="engine" time="{section["seconds"]}">'
                f"<failure message={quoteattr(msg)}>{escape(msg)}</failure></testcase>"
            )
        for pname, entry in props.items():
            status = entry["status"]
            case = f'    <testcase classname="leaderfollower.{engine}" name={quoteattr(pname)} time="0">'
            if status not in GOOD_STATUSES:
                suite_failures += 1
                detail = entry.get("detail", "")
                message = quoteattr(f"{pname} {status} ({entry.get('kind', '')})")
                case += f"<failure message={message}>{escape(detail)}</failure>"
            else:
                case += f"<system-out>{escape(status)}</system-out>"
            cases.append(case + "</testcase>")
        failures += suite_failures
        suites.append(
            f'  <testsuite name="leaderfollower.{engine}" tests="{max(len(props), 1)}" failures="{suite_failures}" '
            f'time="{section["seconds"]}">\n' + "\n".join(cases) + "\n  </testsuite>"
        )
    lines.append(f'<testsuites name="leaderfollower verify" tests="{total}" failures="{failures}">')
    lines.extend(suites)
    lines.append("</testsuites>")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- baseline


def compare_with_baseline(doc: dict[str, Any], baseline: dict[str, Any]) -> list[str]:
    """Every unexpected difference from a baseline result, one line each (empty: none)."""
    diffs: list[str] = []
    if baseline.get("format") != RESULT_FORMAT:
        return [f"baseline is not a {RESULT_FORMAT} document"]
    if baseline.get("version") != doc["version"]:
        diffs.append(f"result format version {baseline.get('version')} -> {doc['version']}: update the baseline")
    old_fp = baseline.get("spec", {}).get("fingerprint")
    if old_fp != doc["spec"]["fingerprint"]:
        diffs.append(f"spec fingerprint changed ({old_fp} -> {doc['spec']['fingerprint']}) and the baseline was not updated")
    if baseline.get("params") != doc["params"]:
        diffs.append(f"parameters differ: baseline {baseline.get('params')} vs now {doc['params']}")
    for engine, section in doc["engines"].items():
        old = baseline.get("engines", {}).get(engine)
        if old is None:
            diffs.append(f"{engine}: not in the baseline")
            continue
        for pname, entry in section["properties"].items():
            before = old.get("properties", {}).get(pname, {}).get("status")
            now = entry["status"]
            if before != now:
                kind = "regressed" if before in GOOD_STATUSES and now not in GOOD_STATUSES else "changed"
                diffs.append(f"{engine}: {pname} {kind}: {before} -> {now}")
        for pname in old.get("properties", {}):
            if pname not in section["properties"]:
                diffs.append(f"{engine}: {pname} is no longer checked")
        for key in ("distinct_states", "transitions", "diameter", "actions_covered", "transitions_covered", "steps"):
            if key in section or key in old:
                if section.get(key) != old.get(key):
                    diffs.append(f"{engine}: {key} changed: {old.get(key)} -> {section.get(key)}")
        if "coverage" in section and "coverage" in old and section["coverage"] != old["coverage"]:
            changed = sorted(a for a in section["coverage"] if section["coverage"][a] != old["coverage"].get(a))
            diffs.append(f"{engine}: action coverage changed for {', '.join(changed) or 'removed actions'}")
    for engine in baseline.get("engines", {}):
        if engine not in doc["engines"]:
            diffs.append(f"{engine}: in the baseline but not run now")
    return diffs
