"""Profiles benchmark: how long `verify` and `report` take under each profile, engine by engine.

Run:  python benchmarks/profiles_bench.py [--profiles default] [--presets default,tiny] [--repeat 1]
      python benchmarks/profiles_bench.py --profiles full --presets default   # the nightly run, ~15 min

Each run is the installed `leaderfollower` command in a child process, as a user
runs it: `verify --profile P --preset X --json FILE` (its per-engine seconds come
from the result document) and then `report --profile P --preset X` on the same
model, so the two are measured side by side on the same machine state and their
ratio (report / verify) is meaningful on a busy machine.  Printed per profile and
preset: wall seconds of each command (the median over the repeats), verify's
seconds per engine, and the ratio.  The machine's load average is printed first:
the figures depend on it (the README and docs/ci.md quote them with it).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _command() -> str:
    exe = Path(sys.executable).parent / "leaderfollower"
    return str(exe) if exe.exists() else shutil.which("leaderfollower") or "leaderfollower"


def _timed(args: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start, done.returncode


def measure(profile: str, preset: str, repeat: int) -> dict[str, Any]:
    """Median wall seconds of verify and report, and verify's per-engine seconds (of its median run)."""
    exe = _command()
    verify_runs: list[tuple[float, dict[str, Any], int]] = []
    report_runs: list[tuple[float, int]] = []
    with tempfile.TemporaryDirectory(prefix="lf-profiles-") as tmp:
        for _ in range(repeat):
            doc_path = Path(tmp) / "result.json"
            seconds, code = _timed([exe, "verify", "--profile", profile, "--preset", preset, "--json", str(doc_path), "--quiet"])
            doc = json.loads(doc_path.read_text()) if doc_path.exists() else {}
            verify_runs.append((seconds, doc, code))
            report_runs.append(_timed([exe, "report", str(Path(tmp) / "report.html"), "--profile", profile, "--preset", preset, "--quiet"]))
    verify_runs.sort(key=lambda run: run[0])
    median_verify = verify_runs[len(verify_runs) // 2]
    return {
        "verify_seconds": statistics.median(run[0] for run in verify_runs),
        "verify_exit": median_verify[2],
        "engines": median_verify[1].get("timings", {}),
        "bounded": median_verify[1].get("bounded", []),
        "report_seconds": statistics.median(run[0] for run in report_runs),
        "report_exit": report_runs[0][1],
    }


def main() -> None:
    """Parse the options, measure, print one block per profile and preset."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profiles", default="default", help="comma-separated profiles (default, full)")
    parser.add_argument("--presets", default="default,tiny", help="comma-separated presets")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (the median is printed)")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"{os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    for profile in args.profiles.split(","):
        for preset in args.presets.split(","):
            m = measure(profile, preset, args.repeat)
            print(f"\nprofile {profile}, preset {preset}:")
            print(f"  verify  {m['verify_seconds']:7.1f} s  (exit {m['verify_exit']})")
            for engine, seconds in m["engines"].items():
                if engine != "total_seconds":
                    print(f"    {engine:<14} {seconds:7.1f} s")
            for line in m["bounded"]:
                print(f"    bounded: {line}")
            ratio = m["report_seconds"] / m["verify_seconds"] if m["verify_seconds"] else float("nan")
            print(f"  report  {m['report_seconds']:7.1f} s  (exit {m['report_exit']}; report/verify {ratio:.2f})")
    load = os.getloadavg()
    print(f"\nload average at the end {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


if __name__ == "__main__":
    main()
