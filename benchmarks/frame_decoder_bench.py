"""How long the frame decoder takes for one 16 MiB frame arriving in 64 KiB chunks (issue 15, bug 4).

Usage: python benchmarks/frame_decoder_bench.py [--repeat 5]

Prints the median over `--repeat` runs.  The decoder this replaced copied its
whole buffer on every chunk (quadratic): 0.73 s for this input on the benchmark
VM, against 0.066 s for the linear one, measured side by side in one session.
"""
from __future__ import annotations

import argparse
import statistics
import time

from leaderfollower.impl.wire import CLIENT_REQUEST, FrameDecoder, encode_frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    frame = encode_frame(CLIENT_REQUEST, b"x" * (16 * 1024 * 1024 - 64))
    chunk = 64 * 1024
    times = []
    for _ in range(args.repeat):
        decoder = FrameDecoder(max_frame=len(frame))
        started = time.perf_counter()
        for k in range(0, len(frame), chunk):
            decoder.feed(frame[k : k + chunk])
        times.append(time.perf_counter() - started)
    print(f"one {len(frame):,}-byte frame in {chunk // 1024} KiB chunks: median {statistics.median(times) * 1000:.1f} ms"
          f" over {args.repeat} runs")


if __name__ == "__main__":
    main()
