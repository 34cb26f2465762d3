"""Commit throughput and latency of a 3-node cluster on loopback, side by side with PySyncObj and etcd.

Usage: python benchmarks/cluster_bench.py [--seconds 5] [--clients 1,32] [--systems leaderfollower,pysyncobj,etcd]
                                         [--repeat N] [--baseline GIT-REF] [--op put|get]

Every system runs 3 members on 127.0.0.1 with data under one temporary folder
(on the same disk as /tmp unless --data-root says otherwise), and receives the
same load: C clients, each issuing `put key value` one after another (a new key
each time, 16-byte values) for the given number of seconds after a one-second
warm-up.  Latency is measured per operation at the client, from sending until
the committed reply.

- leaderfollower: three `leaderfollower node` processes, fsync on (always);
  clients are asyncio tasks in this process using `impl.client.Client`, on
  uvloop's event loop when it is installed (`impl.server.run`, as the CLI client).
- PySyncObj: three processes (this script with `--pysyncobj-node`); the load
  runs as threads inside member 0's process calling a replicated `put` with
  `sync=True` (PySyncObj has no network client).  `appendEntriesUseBatch=False`
  (its no-batching setting).  PySyncObj never fsyncs.
- `--baseline REF` adds "leaderfollower@REF": the same nodes from `impl/` as
  committed at REF (extracted with `git archive`), driven by the same client, so
  a change is measured against its predecessor in the same run.
- `--repeat N` runs every system N times, interleaved (a, b, a, b, ...), with a
  fresh fsync probe each round, and prints per-round rows and then the median of
  each system: this disk's fsync cost changes by 40x over minutes (0.1 ms to
  4 ms), so only interleaved medians compare.
- The current tree's nodes run as `leaderfollower node` does by default, with mutual
  TLS (the client with the cluster's client certificate); `--insecure-too` adds them
  with `--insecure` (plain TCP) to the same run, to show what TLS costs. A
  `--baseline` older than TLS runs plain TCP.
- `--op get` measures linearizable reads instead (leaderfollower only): each
  client reads one key, put during the warm-up, one read after another; with one
  client the cluster is otherwise idle, which is where a read used to wait for
  the next heartbeat to start its quorum round (issue 15, bug 7).
- etcd (Debian's `etcd-server`, if installed): three members, WAL fsync on;
  clients are threads with keep-alive HTTP connections to the v3 JSON gateway
  (`/v3/kv/put`), each sending to the leader.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

from leaderfollower.impl.server import free_base_port

VALUE = "x" * 16


def summarize(system: str, clients: int, latencies: list[float], seconds: float) -> dict[str, Any]:
    """Throughput and latency percentiles of one run."""
    lat = sorted(latencies)
    pct = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000) if lat else (lambda q: float("nan"))
    return {
        "system": system,
        "clients": clients,
        "ops": len(lat),
        "ops_per_s": len(lat) / seconds,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "mean_ms": statistics.fmean(lat) * 1000 if lat else float("nan"),
    }


# ------------------------------------------------------------ leaderfollower


_BASELINE_LAUNCHER = """
import importlib.util, sys
import leaderfollower
folder = sys.argv.pop(1)
spec = importlib.util.spec_from_file_location("leaderfollower.impl", folder + "/__init__.py",
                                              submodule_search_locations=[folder])
module = importlib.util.module_from_spec(spec)
sys.modules["leaderfollower.impl"] = module
spec.loader.exec_module(module)
from leaderfollower.impl.cli import _standalone
_standalone()
"""


def extract_baseline(root: Path, ref: str) -> Path:
    """`impl/` as committed at `ref`, extracted under `root` (read-only use of the repository)."""
    repo = Path(__file__).resolve().parent.parent
    dest = root / "baseline"
    dest.mkdir()
    archive = subprocess.run(["git", "archive", ref, "impl"], cwd=repo, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest / "impl"


def bench_leaderfollower(root: Path, clients: int, seconds: float, impl_dir: Optional[Path] = None,
                         label: str = "leaderfollower (fsync)", op: str = "put", tls: bool = True) -> dict[str, Any]:
    from leaderfollower.impl.client import Client
    from leaderfollower.impl.server import local_addresses, run as run_loop
    from leaderfollower.impl.tls import client_context_for, ensure_cluster_certs

    base = free_base_port(3)
    data = Path(tempfile.mkdtemp(prefix=f"lf-{clients}-", dir=root))
    launch = ([sys.executable, "-c", _BASELINE_LAUNCHER, str(impl_dir)] if impl_dir is not None
              else [sys.executable, "-m", "leaderfollower.impl.cli"])
    tls = tls and impl_dir is None  # a baseline's nodes speak whatever they spoke then: plain TCP
    if tls:
        ensure_cluster_certs(data, 3)
    security = [] if impl_dir is not None or tls else ["--insecure"]
    procs = [
        subprocess.Popen(
            launch + ["node", "--id", str(i), "--nodes", "3",
                      "--base-port", str(base), "--data-dir", str(data), "--log-level", "warning", *security],
        )
        for i in range(3)
    ]
    context = client_context_for(data) if tls else None
    addresses = local_addresses(3, base)
    try:
        async def run() -> list[float]:
            async with Client(addresses, timeout=30, tls=context) as c:
                await c.put("warmup", VALUE)
            latencies: list[float] = []
            stop_at = 0.0
            record = False

            async def worker(w: int) -> None:
                async with Client(addresses, timeout=30, tls=context) as c:
                    k = 0
                    while time.monotonic() < stop_at:
                        t0 = time.perf_counter()
                        reply = await (c.put(f"c{w}-{k}", VALUE) if op == "put" else c.get("warmup"))
                        if not reply.get("ok"):
                            raise RuntimeError(f"{op} failed: {reply}")
                        if record:
                            latencies.append(time.perf_counter() - t0)
                        k += 1

            stop_at = time.monotonic() + 1.0 + seconds
            tasks = [asyncio.create_task(worker(w)) for w in range(clients)]
            await asyncio.sleep(1.0)
            record = True
            await asyncio.gather(*tasks)
            return latencies

        return summarize(label if op == "put" else f"{label} get", clients, run_loop(run()), seconds)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()


# ----------------------------------------------------------------- pysyncobj


def pysyncobj_node(self_addr: str, partners: list[str], clients: int, seconds: float, out: Optional[str]) -> None:
    """One PySyncObj member; member 0 (out given) also runs the load and writes its results."""
    from pysyncobj import SyncObj, SyncObjConf, replicated

    class KV(SyncObj):  # type: ignore[misc]
        def __init__(self) -> None:
            conf = SyncObjConf(appendEntriesUseBatch=False, dynamicMembershipChange=False)
            super().__init__(self_addr, partners, conf)
            self.data: dict[str, str] = {}

        @replicated  # type: ignore[misc]
        def put(self, key: str, value: str) -> None:
            self.data[key] = value

    kv = KV()
    if out is None:
        while True:
            time.sleep(1)
    while kv._getLeader() is None:
        time.sleep(0.05)
    kv.put("warmup", VALUE, sync=True, timeout=30)
    latencies: list[float] = []
    lock = threading.Lock()
    record = threading.Event()
    stop_at = time.monotonic() + 1.0 + seconds

    def worker(w: int) -> None:
        k = 0
        mine = []
        while time.monotonic() < stop_at:
            t0 = time.perf_counter()
            kv.put(f"c{w}-{k}", VALUE, sync=True, timeout=30)
            if record.is_set():
                mine.append(time.perf_counter() - t0)
            k += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(clients)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    record.set()
    for t in threads:
        t.join()
    Path(out).write_text(json.dumps(latencies))
    os._exit(0)


def bench_pysyncobj(root: Path, clients: int, seconds: float) -> dict[str, Any]:
    base = free_base_port(3)
    addrs = [f"127.0.0.1:{base + i}" for i in range(3)]
    out = Path(tempfile.mkdtemp(prefix=f"pysyncobj-{clients}-", dir=root)) / "latencies.json"
    procs = []
    for i in range(3):
        partners = [a for a in addrs if a != addrs[i]]
        cmd = [sys.executable, __file__, "--pysyncobj-node", addrs[i], ",".join(partners), str(clients), str(seconds)]
        if i == 0:
            cmd.append(str(out))
        # PySyncObj's own warnings (many "truncating already-applied log entries" lines) go to a file.
        procs.append(subprocess.Popen(cmd, stderr=open(out.parent / f"member{i}.stderr", "wb")))
    try:
        procs[0].wait(timeout=120)
        return summarize("PySyncObj (no fsync)", clients, json.loads(out.read_text()), seconds)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


# ---------------------------------------------------------------------- etcd


def _http_json(conn: http.client.HTTPConnection, path: str, body: dict[str, Any]) -> dict[str, Any]:
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    if resp.status != 200:
        raise RuntimeError(f"etcd {path}: HTTP {resp.status} {data[:200]!r}")
    return json.loads(data)  # type: ignore[no-any-return]


def bench_etcd(root: Path, clients: int, seconds: float) -> Optional[dict[str, Any]]:
    etcd = shutil.which("etcd")
    if etcd is None:
        return None
    base = free_base_port(6)
    names = [f"m{i}" for i in range(3)]
    peer = [f"http://127.0.0.1:{base + i}" for i in range(3)]
    client = [f"http://127.0.0.1:{base + 3 + i}" for i in range(3)]
    initial = ",".join(f"{n}={p}" for n, p in zip(names, peer))
    procs = []
    data = Path(tempfile.mkdtemp(prefix=f"etcd-{clients}-", dir=root))  # fresh per run (--repeat)
    for i in range(3):
        cmd = [etcd, "--name", names[i], "--data-dir", str(data / f"m{i}"),
               "--listen-peer-urls", peer[i], "--initial-advertise-peer-urls", peer[i],
               "--listen-client-urls", client[i], "--advertise-client-urls", client[i],
               "--initial-cluster", initial, "--initial-cluster-state", "new", "--log-level", "error"]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        leader_port = None
        deadline = time.monotonic() + 60
        while leader_port is None and time.monotonic() < deadline:
            for i in range(3):
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", base + 3 + i, timeout=2)
                    st = _http_json(conn, "/v3/maintenance/status", {})
                    conn.close()
                    if st.get("leader") and st.get("leader") == st.get("header", {}).get("member_id"):
                        leader_port = base + 3 + i
                except (OSError, RuntimeError, ValueError):
                    pass
            time.sleep(0.1)
        if leader_port is None:
            raise RuntimeError("etcd elected no leader")
        latencies: list[float] = []
        lock = threading.Lock()
        record = threading.Event()
        stop_at = time.monotonic() + 1.0 + seconds
        value = base64.b64encode(VALUE.encode()).decode()

        def worker(w: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", leader_port, timeout=30)
            mine = []
            k = 0
            while time.monotonic() < stop_at:
                key = base64.b64encode(f"c{w}-{k}".encode()).decode()
                t0 = time.perf_counter()
                _http_json(conn, "/v3/kv/put", {"key": key, "value": value})
                if record.is_set():
                    mine.append(time.perf_counter() - t0)
                k += 1
            conn.close()
            with lock:
                latencies.extend(mine)

        threads = [threading.Thread(target=worker, args=(w,)) for w in range(clients)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        record.set()
        for t in threads:
            t.join()
        return summarize("etcd 3.4 (fsync)", clients, latencies, seconds)
    finally:
        for p in procs:
            p.kill()
            p.wait()


# ---------------------------------------------------------------------- main

SYSTEMS: dict[str, Callable[[Path, int, float], Optional[dict[str, Any]]]] = {
    "leaderfollower": bench_leaderfollower,
    "pysyncobj": bench_pysyncobj,
    "etcd": bench_etcd,
}


def fsync_cost(root: Path, count: int = 200) -> float:
    """Median cost of appending 64 bytes and fdatasync on this disk, in ms."""
    path = root / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    costs = []
    try:
        for _ in range(count):
            t0 = time.perf_counter()
            os.write(fd, b"x" * 64)
            os.fdatasync(fd)
            costs.append(time.perf_counter() - t0)
    finally:
        os.close(fd)
    return statistics.median(costs) * 1000


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--pysyncobj-node":
        args = sys.argv[2:]
        partners = args[1].split(",")
        pysyncobj_node(args[0], partners, int(args[2]), float(args[3]), args[4] if len(args) > 4 else None)
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--clients", default="1,32")
    ap.add_argument("--systems", default="leaderfollower,pysyncobj,etcd")
    ap.add_argument("--data-root", default=None, help="Folder for the members' data (default: a temporary folder).")
    ap.add_argument("--repeat", type=int, default=1, help="Rounds per client count, systems interleaved; medians at the end.")
    ap.add_argument("--baseline", default=None, metavar="GIT-REF",
                    help="Also run leaderfollower's impl/ as committed at this git ref (same client, same run).")
    ap.add_argument("--insecure-too", action="store_true",
                    help="Also run this tree's nodes with --insecure (plain TCP), to measure what TLS costs.")
    ap.add_argument("--op", choices=["put", "get"], default="put",
                    help="put: committed writes; get: linearizable reads of one key (leaderfollower only).")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="lf-bench-", dir=args.data_root))
    try:
        systems: list[tuple[str, Callable[[Path, int, float], Optional[dict[str, Any]]]]] = []
        if args.baseline:
            impl_dir = extract_baseline(root, args.baseline)
            label = f"leaderfollower@{args.baseline} (fsync)"
            systems.append((label, lambda r, c, s: bench_leaderfollower(r, c, s, impl_dir, label, args.op)))
        if args.insecure_too:
            systems.append(("leaderfollower --insecure", lambda r, c, s: bench_leaderfollower(
                r, c, s, label="leaderfollower --insecure (fsync)", op=args.op, tls=False)))
        if args.op == "get":
            systems.append(("leaderfollower", lambda r, c, s: bench_leaderfollower(r, c, s, op="get")))
        else:
            systems += [(name, SYSTEMS[name]) for name in args.systems.split(",")]
        rows = []
        for clients in [int(c) for c in args.clients.split(",")]:
            for round_ in range(args.repeat):
                print(f"clients {clients}, round {round_ + 1}: median append+fdatasync {fsync_cost(root):.2f} ms",
                      flush=True)
                for name, bench in systems:
                    row = bench(root, clients, args.seconds)
                    if row is None:
                        print(f"{name}: not available, skipped", flush=True)
                        continue
                    rows.append(row)
                    print(json.dumps(row), flush=True)
        print()
        print("| system | clients | ops/s | p50 ms | p99 ms |")
        print("|---|---:|---:|---:|---:|")
        for r in rows:
            print(f"| {r['system']} | {r['clients']} | {r['ops_per_s']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} |")
        if args.repeat > 1:
            print()
            print(f"Medians of {args.repeat} interleaved rounds (ops/s range in brackets):")
            print()
            print("| system | clients | ops/s (min-max) | p50 ms | p99 ms |")
            print("|---|---:|---:|---:|---:|")
            groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
            for r in rows:
                groups.setdefault((r["system"], r["clients"]), []).append(r)
            for (system, clients), rs in groups.items():
                ops = [r["ops_per_s"] for r in rs]
                print(f"| {system} | {clients} | {statistics.median(ops):.0f} ({min(ops):.0f}-{max(ops):.0f})"
                      f" | {statistics.median(r['p50_ms'] for r in rs):.2f}"
                      f" | {statistics.median(r['p99_ms'] for r in rs):.2f} |")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
