"""How long a node takes to load its log at start, by log length (recovery must stay linear).

Writes logs of several lengths into temporary folders with the real file layer,
then times `Storage.load()` on each, median of `--repeat` loads, and prints the
time per entry: a flat column is linear recovery.

    python benchmarks/storage_recovery_bench.py [--sizes 5000,10000,20000,40000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from leaderfollower.impl.messages import Entry
from leaderfollower.impl.storage import RealFileLayer, Storage


def load_seconds(folder: Path, entries: int, repeat: int) -> float:
    """The median time to load a log of `entries` 100-byte entries written in one folder."""
    writer = Storage(RealFileLayer(folder))
    writer.load()
    writer.save(None, 1, tuple(Entry(1, bytes(100)) for _ in range(entries)))
    times = []
    for _ in range(repeat):
        reader = Storage(RealFileLayer(folder))
        start = time.perf_counter()
        state = reader.load()
        times.append(time.perf_counter() - start)
        assert len(state.log) == entries
    return statistics.median(times)


def main() -> None:
    """Print the load time and the time per entry for each size."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="5000,10000,20000,40000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'entries':>8} {'load s':>8} {'us/entry':>9}")
    for size in (int(x) for x in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            seconds = load_seconds(Path(tmp), size, args.repeat)
        print(f"{size:>8} {seconds:>8.3f} {seconds / size * 1e6:>9.1f}")


if __name__ == "__main__":
    main()
