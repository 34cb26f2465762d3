"""The torture run as one self-contained HTML page: verdict, checks, Jepsen-style charts, the minimal witness.

How this works: the charts are inline SVG drawn here (no plotting library, no
script, no URL: the page opens offline).  Throughput: completed operations per
time bucket, one line per outcome.  Latency: every operation as a point (a
deterministic sample when there are many), on a log scale, coloured by kind and
outcome.  Both shade the fault windows and name them.  A minimal non-linearizable
sub-history is drawn as one bar per operation from invocation to completion (an
unknown outcome runs on to the right edge), one row per client.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from leaderfollower.checker.report.svg import FONT, esc

from .history import FAIL, OK, UNKNOWN, Op

if TYPE_CHECKING:
    from .job import TortureResult

WIDTH, HEIGHT = 900, 260
LEFT, RIGHT, TOP, BOTTOM = 60, 20, 20, 40
OUTCOME_COLOURS = {OK: "#2e7d32", UNKNOWN: "#e08a00", FAIL: "#c62828"}
KIND_COLOURS = {"get": "#1f6fc5", "put": "#2e7d32", "delete": "#7b4fc9"}
FAULT_COLOURS = {"kill": "#f4c7c3", "kill-leader": "#f4b6b0", "kill-minority": "#f7d2cd", "kill-all": "#ef9a9a",
                 "pause": "#fff0b3", "partition": "#c9dcf5"}
MAX_POINTS = 8000


def _frame(title: str, body: list[str], x_label: str, y_label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" role="img" '
            f'aria-label="{esc(title)}" style="{FONT}">'
            f'<text x="{LEFT}" y="13" font-size="12" font-weight="bold">{esc(title)}</text>'
            + "".join(body)
            + f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 5}" font-size="11" text-anchor="middle">'
              f'{esc(x_label)}</text>'
            + f'<text x="12" y="{(TOP + HEIGHT - BOTTOM) / 2}" font-size="11" text-anchor="middle" '
              f'transform="rotate(-90 12 {(TOP + HEIGHT - BOTTOM) / 2})">{esc(y_label)}</text></svg>')


class _Axes:
    """Maps seconds since the start, and a value, to the chart's pixels."""

    def __init__(self, seconds: float, top: float, log: bool = False, bottom: float = 0.0) -> None:
        self.seconds = max(seconds, 1e-9)
        self.log = log
        self.bottom = bottom
        self.top = max(top, bottom * 10 if log else bottom + 1)

    def x(self, t: float) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * min(max(t / self.seconds, 0.0), 1.0)

    def y(self, v: float) -> float:
        h = HEIGHT - TOP - BOTTOM
        if self.log:
            lo, hi = math.log10(self.bottom), math.log10(self.top)
            f = (math.log10(min(max(v, self.bottom), self.top)) - lo) / (hi - lo)
        else:
            f = (v - self.bottom) / (self.top - self.bottom)
        return HEIGHT - BOTTOM - h * f

    def grid(self, ticks: Sequence[float], fmt: str) -> list[str]:
        out = [f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" stroke="#555"/>',
               f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" stroke="#555"/>']
        for v in ticks:
            y = self.y(v)
            out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#eee"/>')
            out.append(f'<text x="{LEFT - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{fmt.format(v)}</text>')
        step = _nice(self.seconds / 8)
        t = 0.0
        while t <= self.seconds + 1e-9:
            x = self.x(t)
            out.append(f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 14}" font-size="10" text-anchor="middle">{t:g}</text>')
            t += step
        return out


def _nice(raw: float) -> float:
    magnitude = 10 ** math.floor(math.log10(max(raw, 1e-9)))
    for mult in (1, 2, 5, 10):
        if mult * magnitude >= raw:
            return float(mult * magnitude)
    return float(10 * magnitude)


def _shade(result: "TortureResult", axes: _Axes) -> list[str]:
    out = []
    for w in result.faults:
        x0, x1 = axes.x((w.start - result.started) / 1e9), axes.x((w.end - result.started) / 1e9)
        colour = FAULT_COLOURS.get(w.kind, "#ddd")
        out.append(f'<rect x="{x0:.1f}" y="{TOP}" width="{max(x1 - x0, 1):.1f}" height="{HEIGHT - TOP - BOTTOM}" '
                   f'fill="{colour}" opacity="0.7"><title>{esc(w.kind)}: {esc(w.detail)}</title></rect>')
        out.append(f'<text x="{x0 + 2:.1f}" y="{TOP + 10}" font-size="9" fill="#555">{esc(w.kind)}</text>')
    return out


def throughput_chart(result: "TortureResult") -> str:
    """Completed operations per second over time, one line per outcome, faults shaded."""
    seconds = (result.ended - result.started) / 1e9
    bucket = max(0.25, _nice(seconds / 150))
    counts = {o: [0] * (int(seconds / bucket) + 1) for o in (OK, UNKNOWN, FAIL)}
    for op in result.history:
        b = int((op.complete - result.started) / 1e9 / bucket)
        if 0 <= b < len(counts[op.outcome]):
            counts[op.outcome][b] += 1
    top = max((c / bucket for series in counts.values() for c in series), default=1.0)
    axes = _Axes(seconds, top * 1.1)
    body = _shade(result, axes) + axes.grid([_nice(top / 4) * k for k in range(5) if _nice(top / 4) * k <= top * 1.1],
                                            "{:g}")
    for outcome, series in counts.items():
        points = " ".join(f"{axes.x((k + 0.5) * bucket):.1f},{axes.y(c / bucket):.1f}" for k, c in enumerate(series))
        body.append(f'<polyline points="{points}" fill="none" stroke="{OUTCOME_COLOURS[outcome]}" stroke-width="1.5"/>')
    body += _legend([(f"{o}", OUTCOME_COLOURS[o]) for o in counts])
    return _frame("throughput (completed ops/s)", body, "seconds", "ops/s")


def latency_chart(result: "TortureResult") -> str:
    """Every operation's latency (a sample past MAX_POINTS) on a log scale, faults shaded."""
    seconds = (result.ended - result.started) / 1e9
    ops = result.history
    step = max(1, math.ceil(len(ops) / MAX_POINTS))
    sample = ops[::step]
    lat = [max((op.complete - op.invoke) / 1e6, 0.01) for op in sample]
    axes = _Axes(seconds, max(lat, default=1.0) * 1.5, log=True, bottom=min(lat, default=0.1) / 1.5)
    ticks = [10.0 ** k for k in range(-2, 6) if axes.bottom <= 10.0 ** k <= axes.top]
    body = _shade(result, axes) + axes.grid(ticks, "{:g}")
    for op, ms in zip(sample, lat):
        colour = KIND_COLOURS[op.kind] if op.outcome == OK else OUTCOME_COLOURS[op.outcome]
        body.append(f'<circle cx="{axes.x((op.invoke - result.started) / 1e9):.1f}" cy="{axes.y(ms):.1f}" r="1.3" '
                    f'fill="{colour}"/>')
    body += _legend([(k, c) for k, c in KIND_COLOURS.items()] + [("unknown", OUTCOME_COLOURS[UNKNOWN]),
                                                                  ("failed", OUTCOME_COLOURS[FAIL])])
    note = f", every {step}th op" if step > 1 else ""
    return _frame(f"latency (ms, log scale{note})", body, "seconds (invocation)", "ms")


def _legend(items: list[tuple[str, str]]) -> list[str]:
    out = []
    x = WIDTH - RIGHT - 70 * len(items)
    for label, colour in items:
        out.append(f'<rect x="{x}" y="5" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{x + 14}" y="14" font-size="10">{esc(label)}</text>')
        x += 70
    return out


def witness_chart(ops: Sequence[Op]) -> str:
    """The operations of a minimal witness as bars from invocation to completion, one row per client."""
    clients = sorted({op.client for op in ops})
    t0 = min(op.invoke for op in ops)
    t1 = max(max(op.complete for op in ops), t0 + 1)
    span = (t1 - t0) * 1.15
    row = 34
    height = TOP + row * len(clients) + 30
    width = WIDTH

    def x(t: float) -> float:
        return 150 + (width - 170) * (t - t0) / span

    body = []
    for r, c in enumerate(clients):
        y = TOP + 10 + r * row
        body.append(f'<text x="8" y="{y + 14}" font-size="11">client {c}</text>')
        for op in (o for o in ops if o.client == c):
            end = x(t0 + span) if op.outcome == UNKNOWN else x(op.complete)
            colour = KIND_COLOURS[op.kind]
            dash = ' stroke-dasharray="4 3"' if op.outcome == UNKNOWN else ""
            body.append(f'<rect x="{x(op.invoke):.1f}" y="{y}" width="{max(end - x(op.invoke), 2):.1f}" height="20" '
                        f'fill="{colour}" fill-opacity="0.25" stroke="{colour}"{dash}/>'
                        f'<text x="{x(op.invoke) + 3:.1f}" y="{y + 14}" font-size="11">{esc(op.describe())}</text>')
    body.append(f'<text x="150" y="{height - 8}" font-size="10">{(t1 - t0) / 1e6:.1f} ms from the first invocation'
                f' to the last completion; a dashed bar is an unknown outcome (open to the right)</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
            f'aria-label="minimal non-linearizable sub-history" style="{FONT}">' + "".join(body) + "</svg>")


def _table(rows: Sequence[Sequence[str]], header: Sequence[str] = ()) -> str:
    head = "<tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>" if header else ""
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table>{head}{body}</table>"


def render_page(result: "TortureResult") -> str:
    """The whole page as HTML text."""
    s = result.summary()
    lin, dur = result.linearizability, result.durability
    checks = [
        ("linearizability", lin.status, f"{len(lin.keys)} keys checked, {lin.dropped} failed reads dropped, "
                                        f"{lin.seconds:.1f} s"),
        ("durability", "holds" if not dur.lost else f"{len(dur.lost)} acknowledged writes lost",
         f"{s['acknowledged_writes']} acknowledged writes looked up in the committed log"),
        ("logs agree", "holds" if not dur.disagreements and not dur.unreadable and not dur.problems else "violated",
         "; ".join([f"nodes {d.a} and {d.b} differ at index {d.index}: {d.detail}" for d in dur.disagreements]
                   + [f"node {i}: {e}" for i, e in dur.unreadable.items()] + dur.problems)
         or f"commit indexes {dur.commit_index}"),
        ("no node crashed", "holds" if not result.crashed else "violated",
         ", ".join(f"node {i} exited with {c}" for i, c in result.crashed.items()) or "-"),
    ]
    facts = [
        ("operations", f"{s['operations']} ({s['by_outcome']['ok']} ok, {s['by_outcome']['unknown']} unknown writes,"
                       f" {s['by_outcome']['fail']} failed reads)"),
        ("faults", ", ".join(f"{k} x{v}" for k, v in s["faults"].items()) or "none"),
        ("partitions", result.partitions),
        ("duration", f"{s['seconds']} s"),
        ("seed", str(result.seed)),
        ("recheck", f"leaderfollower torture --check {result.out / 'history.jsonl'}"),
    ]
    key_rows = [(k.key, k.result.status, str(k.result.ops), str(k.result.unknown_writes), f"{k.result.configs:,}",
                 f"{k.seconds:.2f}", k.result.reason) for k in lin.keys]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>leaderfollower torture</title><style>",
        "body{font-family:DejaVu Sans,Verdana,Arial,sans-serif;margin:24px;color:#1b1f23;max-width:960px}",
        "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;"
        "text-align:left;vertical-align:top}.valid{color:#2e7d32}.invalid{color:#c62828}.unknown{color:#e08a00}",
        "</style></head><body>",
        f"<h1>torture: <span class='{esc(result.verdict)}'>{esc(result.verdict.upper())}</span></h1>",
        _table(facts),
        "<h2>Checks</h2>", _table(checks, ("check", "result", "detail")),
        "<h2>Throughput and latency</h2>", throughput_chart(result), latency_chart(result),
    ]
    for key, witness in result.witnesses.items():
        ops = witness.ops
        why = ("each was kept because dropping it makes the rest linearizable (or could hide what the original "
               "history shows)" if witness.minimal else
               "shrinking ran out of time, so some of them may not be needed")
        parts += [f"<h2>{'Minimal n' if witness.minimal else 'N'}on-linearizable sub-history of key {esc(key)}"
                  f" ({len(ops)} operations)</h2>",
                  "<p>No order of these operations respects both their real-time order and a register's "
                  f"behaviour; {why}.</p>",
                  witness_chart(ops),
                  _table([(str(op.id), str(op.client), op.describe(), f"{(op.invoke - result.started) / 1e6:.3f}",
                           "-" if op.outcome == UNKNOWN else f"{(op.complete - result.started) / 1e6:.3f}")
                          for op in ops], ("id", "client", "operation", "invoked (ms)", "completed (ms)"))]
    if dur.lost:
        parts += ["<h2>Lost writes</h2>", _table([(str(op.id), op.describe()) for op in dur.lost[:200]],
                                                 ("id", "operation"))]
    parts += ["<h2>Keys</h2>", _table(key_rows, ("key", "status", "ops", "unknown writes", "configurations",
                                                 "seconds", "note")),
              "<h2>Faults</h2>",
              _table([(w.kind, w.detail, f"{(w.start - result.started) / 1e9:.1f}",
                       f"{(w.end - result.started) / 1e9:.1f}") for w in result.faults],
                     ("fault", "what", "from (s)", "to (s)"))]
    if result.notes:
        parts += ["<h2>Notes</h2><ul>"] + [f"<li>{esc(n)}</li>" for n in result.notes] + ["</ul>"]
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_page(result: "TortureResult", path: Path) -> None:
    """Write the page to `path`."""
    path.write_text(render_page(result), encoding="utf-8")
