"""`leaderfollower prove`: the spec's invariants checked with Z3 (bounded and inductive).

Exit codes as for `check`: 0 every requested result holds (proved inductive, or no
violation to the depth), 1 a property is violated or an induction step fails (or
times out), 2 a usage error, reported on one line.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Optional

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from leaderfollower.checker.z3.lemmas import PROOFS, PROPERTY_ENCODINGS, LEMMAS
from leaderfollower.spec.params import PRESETS

from leaderfollower.checker.cli.common import EXIT_OK, EXIT_VIOLATION, UsageError, build_params, fail_usage
from leaderfollower.checker.jobs.config import Z3_BOUNDED_DEPTH, Z3_ENGINES, Z3_IC3_SECONDS
from leaderfollower.checker.z3.isolation import DEFAULT_MEMORY_MB, Limits, ResultsFile
from leaderfollower.checker.z3.parametric.lemmas import PARAMETRIC_PROOFS
from leaderfollower.checker.z3.parametric.budget import DEFAULT_RLIMIT, IMPLIED_RLIMIT, SAFETY_NET_MS, Budget
from leaderfollower.checker.z3.parametric.prove import prove_parametric
from leaderfollower.checker.z3.prove import BmcOutcome, InductionResult, bmc, explorer_reach, format_cti, ic3, prove_inductive
from leaderfollower.checker.z3.results import Obligation
from leaderfollower.checker.jobs.specs import SpecLoadError, load_spec_class
from leaderfollower.checker.explore.traces import format_trace
from leaderfollower.checker.z3.bmc import PROPERTIES as BMC_PROPERTIES
from leaderfollower.checker.z3.bmc import BmcModel
from leaderfollower.checker.z3.model import EncodingError, Z3Model

DEFAULT_DEPTH = Z3_BOUNDED_DEPTH
"""Default depth of `--engine bmc` (`config.Z3_BOUNDED_DEPTH`, as verify's).  The issue
asks for the default graph's diameter (52): out of BMC's reach, as each step costs 2x
to 4x the one before.  The default engine, ic3, covers it and every depth beyond:
it proves every always property of the default model in 8 to 12 minutes here
(docs/performance-z3.md)."""


class _Bar:
    """A progress bar on stderr for the proof's obligations and BMC depths."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.progress: Optional[Progress] = None
        self.tasks: dict[str, Any] = {}

    def __call__(self, what: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.progress is None:
            self.progress = Progress(
                TextColumn("[bold]{task.description}[/]"),
                BarColumn(bar_width=None),
                TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.progress.start()
        if what not in self.tasks:
            self.tasks[what] = self.progress.add_task(what, total=total)
        self.progress.update(self.tasks[what], completed=done, total=total)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


class _Lines:
    """Progress as plain lines on stderr (with --json, or when stderr is no terminal): at most one a second per task,
    and each obligation that is not proved."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.start = time.perf_counter()
        self.last: dict[str, float] = {}

    def __call__(self, what: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if not self.enabled or (now - self.last.get(what, -1.0) < 1.0 and done < total):
            return
        self.last[what] = now
        click.echo(f"prove: {now - self.start:7.1f} s  {what} {done}/{total}", err=True)

    def obligation(self, prop: str, o: Obligation, done: int, total: int) -> None:
        """One line per obligation: every one that is not proved, and the proved ones at most once a second."""
        if not self.enabled:
            return
        now = time.perf_counter()
        if o.status == "proved" and now - self.last.get("obligation", -1.0) < 1.0 and done < total:
            return
        self.last["obligation"] = now
        why = f" ({o.reason})" if o.reason else ""
        orbits = f", {o.queries} queries for {o.instances} instances" if o.queries else ""
        units = f", largest query {o.rlimit:,} units" if o.rlimit else ""
        click.echo(f"prove: {now - self.start:7.1f} s  {prop} {done}/{total}: {o.lemma} / {o.action or 'Init'} {o.status} in {o.seconds:.1f} s{orbits}{units}{why}", err=True)

    def close(self) -> None:
        """Nothing to tear down."""


DEFAULT_TIMEOUT_S = 60.0
"""Seconds per Z3 query of the fixed-size proofs (`--timeout`)."""


def _servers(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"--servers: expected a number or 'any', got {text!r}") from None


def _limits(workers: Optional[int], memory_mb: int, obligation_s: Optional[float]) -> Limits:
    if workers is not None and workers < 0:
        raise UsageError(f"--workers: expected 0 or more, got {workers}")
    if memory_mb < 64:
        raise UsageError(f"--memory-mb: expected at least 64, got {memory_mb}")
    if obligation_s is not None and obligation_s <= 0:
        raise UsageError(f"--obligation-timeout: expected a positive number of seconds, got {obligation_s}")
    return Limits(os.cpu_count() or 1 if workers is None else workers, memory_mb, obligation_s)


def _results_file(path: Optional[Path]) -> Optional[Path]:
    """The results file, read once here so that a corrupt one is a usage error (exit 2), not a traceback."""
    if path is not None:
        try:
            ResultsFile(path)
        except (ValueError, OSError) as exc:
            raise UsageError(f"--results: {exc}") from None
    return path


def _check_parametric(props: list[str], lemmas: Optional[list[str]], support: bool) -> None:
    if lemmas is not None or support:
        raise UsageError("--servers any proves the shipped parametric lemmas; --lemmas and --support are for a fixed size")
    for name in props:
        if name not in PARAMETRIC_PROOFS:
            raise UsageError(f"{name} has no proof for every number of servers; proved: {', '.join(PARAMETRIC_PROOFS)}")


class _Induction:
    """The inductive proofs of a `prove` run: at the spec's size (`fixed`) or for every size (`parametric`)."""

    def __init__(
        self, spec: Any, lemmas: Optional[list[str]], budget: Budget, support: bool, reach: bool, bar: Any, limits: Limits, results: Optional[Path]
    ) -> None:
        self.spec, self.lemmas, self.budget, self.support = spec, lemmas, budget, support
        self.reach, self.bar, self.limits, self.results = reach, bar, limits, results

    def _lines(self, prop: str) -> Any:
        if not isinstance(self.bar, _Lines):
            return None
        return lambda o, done, total: self.bar.obligation(prop, o, done, total)

    def fixed(self, chosen: list[str]) -> list[InductionResult]:
        oracle = explorer_reach(self.spec) if self.reach else None
        out = []
        for name in chosen:
            if name not in PROPERTY_ENCODINGS or (self.lemmas is None and name not in PROOFS):
                continue  # no induction encoding or no shipped proof: BMC only
            out.append(
                prove_inductive(
                    self.spec, name, self.lemmas, timeout_ms=self.budget.timeout_ms, support=self.support, reach=oracle,
                    progress=self.bar, limits=self.limits, results_file=self.results, on_obligation=self._lines(name),
                )
            )
        return out

    def parametric(self, chosen: list[str]) -> list[InductionResult]:
        return [
            prove_parametric(
                self.spec, name, budget=self.budget, reach=self.reach, progress=self.bar,
                limits=self.limits, results_file=self.results, on_obligation=self._lines(name),
            )
            for name in chosen
            if name in PARAMETRIC_PROOFS
        ]


def _cti_doc(o: Any) -> Optional[dict[str, Any]]:
    if o.cti is None:
        return None
    return {
        "action": str(o.cti.action),
        "reachable": o.cti.reachable,
        "note": o.cti.note,
        "text": format_cti(o.cti) if o.cti.before.servers else "",
    }


def induction_doc(r: InductionResult) -> dict[str, Any]:
    """One property's inductive proof as a JSON object (its obligations, and for how many servers)."""
    return {
        "property": r.property,
        "servers": r.servers,
        "status": "proved-inductive" if r.proved else ("violated" if r.failed else "unknown"),
        "lemmas": list(r.lemmas),
        "seconds": round(r.seconds, 3),
        "peak_rss_mb": round(r.peak_rss_mb, 1),
        "obligations": [
            {
                "lemma": o.lemma,
                "action": o.action or "Init",
                "status": o.status,
                "seconds": round(o.seconds, 3),
                # One query per orbit of server permutations: how many (instance, conjunct) pairs it stands for.
                **({"queries": o.queries, "instances": o.instances} if o.queries else {}),
                # Z3's resource units of the largest decided query (the parametric proofs: what --rlimit must cover).
                **({"rlimit": o.rlimit} if o.rlimit else {}),
                **({"reason": o.reason} if o.reason else {}),
                **({"support": list(o.support)} if o.support is not None else {}),
                **({"cti": _cti_doc(o)} if o.cti is not None else {}),
            }
            for o in r.obligations
        ],
    }


def bmc_doc(o: BmcOutcome) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "property": o.property,
        "engine": o.engine,
        "status": o.status,
        "depth": o.depth,
        "seconds": round(o.seconds, 3),
    }
    if o.proved:
        doc["invariant_clauses"] = o.clauses
    if o.trace is not None:
        doc["trace"] = [{"action": None if s.action is None else str(s.action)} for s in o.trace]
    return doc


@click.command()
@click.option("--preset", default="default", show_default=True, help=f"Named configuration: {', '.join(PRESETS)}.")
@click.option("--spec", "spec_ref", default="raft", show_default=True, help="raft or a shipped variant.")
@click.option("--servers", "servers_opt", help="Number of servers, or 'any': the inductive proofs for every number of servers (docs/z3.md).")
@click.option("--values", type=int, help="Number of client values.")
@click.option("--max-term", type=int, help="BMC bound on every current_term.")
@click.option("--max-log", type=int, help="BMC bound on every log's length.")
@click.option("--max-copies", type=int, help="BMC bound on the copies of one message in flight.")
@click.option("--max-in-flight", type=int, help="BMC bound on the distinct messages in flight.")
@click.option("--property", "props", multiple=True, help="Property to check (repeatable; default: every always property; induction for those with an encoding).")
@click.option("--depth", type=int, help=f"ic3: stop once this depth is cleared (default: run to a proof); bmc: the depth (default {DEFAULT_DEPTH}).  0 skips the bounded check.")
@click.option(
    "--engine",
    type=click.Choice(Z3_ENGINES),
    default="ic3",
    show_default=True,
    help="Bounded check: ic3 finds the shortest violation or proves the property at every depth of the bounded model; bmc unrolls to --depth.",
)
@click.option("--ic3-seconds", type=float, default=Z3_IC3_SECONDS, show_default=True, help="Time budget of --engine ic3 (then: no violation to the depth cleared).")
@click.option("--no-induction", is_flag=True, help="Bounded model checking only.")
@click.option("--lemmas", "lemma_list", help="Comma-separated lemmas to use instead of the shipped proof's.")
@click.option("--support", is_flag=True, help="Report the minimal set of lemmas each obligation needs (unsat cores).")
@click.option(
    "--timeout",
    "timeout_s",
    type=float,
    default=None,
    help=f"Seconds per Z3 query (default {DEFAULT_TIMEOUT_S:g}; with --servers any a wall-clock safety net beside --rlimit, default {SAFETY_NET_MS // 1000}).",
)
@click.option(
    "--rlimit",
    "rlimit",
    type=int,
    default=None,
    help=f"--servers any: Z3 resource units per query, so the verdicts do not depend on the machine's load (default {DEFAULT_RLIMIT:,}; an Implied obligation's queries get {IMPLIED_RLIMIT // DEFAULT_RLIMIT}x).",
)
@click.option("--reach/--no-reach", default=True, show_default=True, help="Ask the explorer whether a counterexample to induction's pre-state is reachable.")
@click.option("--obligations", "show_obligations", is_flag=True, help="Print every obligation, not only failed ones.")
@click.option("--workers", type=int, default=None, help="Worker processes for the inductive proofs' obligations (default: one per core; 0: in this process).")
@click.option("--memory-mb", type=int, default=DEFAULT_MEMORY_MB, show_default=True, help="Z3's memory per worker; a query past it is unknown, the run goes on.")
@click.option("--obligation-timeout", "obligation_s", type=float, help="Wall-clock budget of one obligation in a worker (seconds).")
@click.option("--results", "results_path", type=click.Path(dir_okay=False, path_type=Path), help="Record each obligation here, and skip those an earlier run recorded as proved (resume).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables (progress still goes to stderr).")
@click.option("--quiet", is_flag=True, help="Print nothing but errors; the exit code tells.")
def prove(
    preset: str,
    spec_ref: str,
    servers_opt: Optional[str],
    values: Optional[int],
    max_term: Optional[int],
    max_log: Optional[int],
    max_copies: Optional[int],
    max_in_flight: Optional[int],
    props: tuple[str, ...],
    depth: Optional[int],
    engine: str,
    ic3_seconds: float,
    no_induction: bool,
    lemma_list: Optional[str],
    support: bool,
    timeout_s: Optional[float],
    rlimit: Optional[int],
    reach: bool,
    show_obligations: bool,
    workers: Optional[int],
    memory_mb: int,
    obligation_s: Optional[float],
    results_path: Optional[Path],
    as_json: bool,
    quiet: bool,
) -> None:
    """Check the invariants with Z3: on the bounded model (IC3 or BMC), and inductive proofs with the spec's lemmas."""
    try:
        parametric = servers_opt == "any"
        servers = None if parametric or servers_opt is None else _servers(servers_opt)
        overrides = {"servers": servers, "values": values, "max_term": max_term, "max_log": max_log}
        params = build_params(preset, {**overrides, "max_copies": max_copies, "max_in_flight": max_in_flight})
        spec = load_spec_class(spec_ref)(params)
        Z3Model.for_spec(spec)
        BmcModel.for_spec(spec)
        chosen = _chosen_properties(props)
        lemmas = _chosen_lemmas(lemma_list)
        budget = _budget(parametric, timeout_s, rlimit)
        _check_numbers(depth, ic3_seconds)
        limits = _limits(workers, memory_mb, obligation_s)
        results_file = _results_file(results_path)
        if parametric:
            _check_parametric(list(props), lemmas, support)
    except (UsageError, SpecLoadError, EncodingError) as exc:
        fail_usage(str(exc))
    bmc_depth = DEFAULT_DEPTH if depth is None else depth
    bar: Any = _Bar(enabled=True) if not (quiet or as_json) and sys.stderr.isatty() else _Lines(enabled=not quiet)
    start = time.perf_counter()
    try:
        bmc_names = [name for name in chosen if name in BMC_PROPERTIES]
        if bmc_depth == 0:
            bmc_results: list[BmcOutcome] = []
        elif engine == "ic3":
            bmc_results = ic3(spec, bmc_names, max_depth=depth, seconds=ic3_seconds, progress=bar)
        else:
            bmc_results = bmc(spec, bmc_names, bmc_depth, progress=bar)
        inductions: list[InductionResult] = []
        if not no_induction:
            run = _Induction(spec, lemmas, budget, support, reach, bar, limits, results_file)
            inductions = run.parametric(chosen) if parametric else run.fixed(chosen)
    finally:
        bar.close()
    ok = all(not b.violated for b in bmc_results) and all(r.proved for r in inductions)
    doc = {
        "spec": spec.name,
        "params": params.to_dict(),
        "servers": "any" if parametric else params.servers,
        "ok": ok,
        "seconds": round(time.perf_counter() - start, 3),
        "bmc": [bmc_doc(b) for b in bmc_results],
        "induction": [induction_doc(r) for r in inductions],
    }
    if as_json:
        click.echo(json.dumps(doc, indent=2))
    elif not quiet:
        render(Console(), doc, bmc_results, inductions, bmc_depth, show_obligations or support)
    sys.exit(EXIT_OK if ok else EXIT_VIOLATION)


def _chosen_properties(props: tuple[str, ...]) -> list[str]:
    chosen = list(props) or list(BMC_PROPERTIES)
    for name in chosen:
        if name not in BMC_PROPERTIES and name not in PROPERTY_ENCODINGS:
            raise UsageError(f"property {name!r} has no Z3 encoding; known: {', '.join(BMC_PROPERTIES)}")
    return chosen


def _chosen_lemmas(lemma_list: Optional[str]) -> Optional[list[str]]:
    if lemma_list is None:
        return None
    known = {lm.name for lm in LEMMAS}
    lemmas = [x.strip() for x in lemma_list.split(",") if x.strip()]
    for x in lemmas:
        if x not in known:
            raise UsageError(f"unknown lemma {x!r}; known: {', '.join(sorted(known))}")
    return lemmas


def _check_numbers(depth: Optional[int], ic3_seconds: float) -> None:
    if depth is not None and depth < 0:
        raise UsageError(f"--depth: expected at least 0, got {depth}")
    if ic3_seconds <= 0:
        raise UsageError(f"--ic3-seconds: expected a positive number of seconds, got {ic3_seconds}")


def _budget(parametric: bool, timeout_s: Optional[float], rlimit: Optional[int]) -> Budget:
    """The per-query limits: for a fixed size the wall clock (`--timeout`), for every size resource units
    (`--rlimit`) with the wall clock as a safety net."""
    if timeout_s is not None and timeout_s <= 0:
        raise UsageError(f"--timeout: expected a positive number of seconds, got {timeout_s}")
    if rlimit is not None and not parametric:
        raise UsageError("--rlimit bounds the proofs for every number of servers: use it with --servers any")
    if rlimit is not None and rlimit <= 0:
        raise UsageError(f"--rlimit: expected a positive number of resource units, got {rlimit}")
    if not parametric:
        return Budget(rlimit=0, timeout_ms=int((DEFAULT_TIMEOUT_S if timeout_s is None else timeout_s) * 1000))
    budget = Budget() if rlimit is None else Budget.scaled(rlimit)
    return budget if timeout_s is None else replace(budget, timeout_ms=int(timeout_s * 1000))


PARAMETRIC_SCOPE = (
    "For every number of servers: a proof covers any set of servers with any quorum system in which two quorums "
    "share a member (the majorities of every N), unbounded terms, logs and message bag; it assumes the parametric "
    "encoding is the spec (tests/test_parametric.py) and Z3's answers (unknown is never proved). docs/z3.md"
)
"""What `--servers any` covers and assumes, printed under its table."""


def _induction_status(r: InductionResult) -> str:
    if r.proved and r.servers == "any":
        # For every number of servers and every quorum system whose quorums intersect.
        return f"[green]proved inductive for every number of servers[/] ({len(r.lemmas)} lemmas; every depth, any term)"
    if r.proved:
        # An inductive invariant holds in every reachable state at this number of
        # servers, whatever the depth, the terms, the logs or the messages in flight.
        return f"[green]proved inductive[/] ({len(r.lemmas)} lemmas; every depth, any term)"
    if r.failed:
        return f"[bold red]induction fails[/] ({len(r.failed)} obligations)"
    return "[yellow]unknown (timeout)[/]"


def render(
    console: Console, doc: dict[str, Any], bmcs: list[BmcOutcome], inds: list[InductionResult], depth: int, every: bool
) -> None:
    """A table per property, then each counterexample."""
    size = "any number of servers" if doc["servers"] == "any" else f"{doc['params']['servers']} servers"
    table = Table(title=f"{doc['spec']}: prove ({size})")
    for col in ("property", "check", "status", "time"):
        table.add_column(col)
    for b in bmcs:
        if b.violated:
            status = f"[bold red]violated at depth {b.depth}[/] (shortest)"
        elif b.proved:
            status = f"[green]holds at every depth[/] (inductive invariant of {b.clauses} clauses, checked)"
        else:
            status = f"[green]holds to depth {b.depth}[/]"
        table.add_row(b.property, b.engine.upper(), status, f"{b.seconds:.2f} s")
    for r in inds:
        table.add_row(r.property, "induction", _induction_status(r), f"{r.seconds:.2f} s")
    console.print(table)
    if doc["servers"] == "any" and inds:
        console.print(PARAMETRIC_SCOPE, markup=False, highlight=False)
    for r in inds:
        obl = Table(title=f"{r.property}: obligations")
        for col in ("lemma", "action", "status", "time", "queries / instances", "support / reason"):
            obl.add_column(col)
        shown = [o for o in r.obligations if every or o.status != "proved"]
        if not shown:
            continue
        for o in shown:
            style = {"proved": "green", "failed": "bold red"}.get(o.status, "yellow")
            support = ", ".join(o.support) if o.support is not None else o.reason
            orbits = f"{o.queries} / {o.instances}" if o.queries else ""
            obl.add_row(o.lemma, o.action or "Init", f"[{style}]{o.status}[/]", f"{o.seconds:.2f} s", orbits, support)
        console.print(obl)
        for o in r.failed:
            if o.cti is None:
                continue
            where = {True: "reachable by the explorer: a real bug", False: "not reachable within the bounds: a missing lemma?", None: "reachability not checked"}[o.cti.reachable]
            console.print(f"\n[bold red]counterexample to induction[/]: {o.action} breaks {o.lemma} ({where})")
            if o.cti.note:
                console.print(f"  {o.cti.note}")
            if o.cti.before.servers:
                console.print(format_cti(o.cti), markup=False, highlight=False)
    for b in bmcs:
        if b.trace is not None:
            console.print(f"\n[bold red]{b.property} violated[/] after {b.depth} steps ({b.engine.upper()}):")
            console.print(format_trace(b.trace), markup=False, highlight=False)
