"""Pictures for the report, as SVG text: sequence diagrams, a depth chart, a state graph.

How this works: each generator takes plain values (a trace, a list of counts, an
explored graph) and returns one `<svg>` element as a string, with every piece of
text escaped.  No plotting library is used on purpose: the report must be one
self-contained file that opens without network access or JavaScript, and these
three pictures are a few rectangles, lines and labels each.  The layouts are ours
(a row per trace step; bars; layers by BFS depth with a barycentre ordering pass).

`standalone=True` adds the SVG namespace so the string is a valid `.svg` file; an
SVG inlined in HTML does not need it (and the report then holds no URL at all).

A sequence diagram draws one vertical lifeline per server, coloured by the role the
server has after each step, and one row per step.  Every action is a labelled box
on the lifeline of the server that takes it (the recipient, for a message handler);
network faults (`DuplicateMessage`, `DropMessage`) sit on a dotted network column.
A message is an arrow from the row where it appears in the bag to the row where a
step removes it (handled, dropped as stale, or lost); one still in the bag at the
end is a dashed arrow to the bottom edge.
"""
from __future__ import annotations

import html
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, NamedTuple, Optional, Sequence

from leaderfollower.spec.actions import ACTION_BY_NAME, Action, ActionName, Actor, ArgKind
from leaderfollower.spec.state import (
    CANDIDATE,
    FOLLOWER,
    LEADER,
    AppendEntriesRequest,
    AppendEntriesResponse,
    Message,
    RequestVoteRequest,
    RequestVoteResponse,
    ServerState,
)

from leaderfollower.checker.explore.traces import Step, server_changes

if TYPE_CHECKING:
    from leaderfollower.checker.explore.result import ExploreResult

SVG_NS = "http://www.w3.org/2000/svg"

ROLE_COLOURS: dict[str, str] = {FOLLOWER: "#9aa5b1", CANDIDATE: "#e0a100", LEADER: "#2e9d4f"}
ROLE_SHORT: dict[str, str] = {FOLLOWER: "F", CANDIDATE: "C", LEADER: "L"}
MESSAGE_COLOURS: dict[str, str] = {
    "RequestVoteRequest": "#7b4fc9",
    "RequestVoteResponse": "#a77fe6",
    "AppendEntriesRequest": "#1f6fc5",
    "AppendEntriesResponse": "#5aa0e6",
}
FONT = "font-family:DejaVu Sans,Verdana,Arial,sans-serif"


def esc(text: object) -> str:
    """Text escaped for an XML/HTML text node or a double-quoted attribute."""
    return html.escape(str(text), quote=True)


def _open(width: float, height: float, label: str, standalone: bool, css_class: str) -> str:
    ns = f' xmlns="{SVG_NS}"' if standalone else ""
    return (
        f'<svg{ns} class="{esc(css_class)}" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{esc(label)}" style="{FONT}">'
        f"<title>{esc(label)}</title>"
    )


def _text(x: float, y: float, text: str, size: int = 11, anchor: str = "start", fill: str = "#1b1f23", weight: str = "normal", extra: str = "") -> str:
    w = ' font-weight="bold"' if weight == "bold" else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"{w}{extra}>{esc(text)}</text>'
    )


def _text_width(text: str, size: int = 11) -> float:
    """A generous estimate of rendered width (no font metrics without a renderer)."""
    return len(text) * size * 0.62


# ------------------------------------------------------------ sequence diagram


def message_label(m: Message) -> str:
    """A compact label for an arrow: kind, term and the fields that matter."""
    if isinstance(m, RequestVoteRequest):
        return f"RequestVote t{m.mterm} last=t{m.mlast_log_term}/{m.mlast_log_index}"
    if isinstance(m, RequestVoteResponse):
        return f"Vote t{m.mterm} {'granted' if m.mvote_granted else 'denied'}"
    if isinstance(m, AppendEntriesRequest):
        entries = ",".join(f"t{e.term}:v{e.value}" for e in m.mentries)
        return f"AppendEntries t{m.mterm} prev={m.mprev_log_index}/t{m.mprev_log_term} [{entries}] commit={m.mcommit_index}"
    if isinstance(m, AppendEntriesResponse):
        return f"AppendResp t{m.mterm} {'ok' if m.msuccess else 'fail'} match={m.mmatch_index}"
    return str(m)


def actor_of(action: Action) -> Optional[int]:
    """The server that takes an action (the recipient for a handler); None for network faults."""
    row = ACTION_BY_NAME.get(action.name)  # None: an action of a user's own successors
    if row is not None and row.actor is Actor.NETWORK:
        return None
    first = action.args[0]
    if isinstance(first, int):
        return first
    return int(first.mdest)


def box_label(action: Action) -> str:
    """The short text inside an action's box."""
    name, args = action
    row = ACTION_BY_NAME.get(name)
    kinds = row.args if row is not None else ()
    if kinds == (ArgKind.SERVER, ArgKind.SERVER):  # RequestVote, AppendEntries: to whom
        return f"{name} \u2192 s{args[1]}"
    if kinds == (ArgKind.SERVER, ArgKind.VALUE):  # ClientRequest: which value
        return f"{name} v{args[1]}"
    return str(name)


def _wrap(text: str, width: int, max_lines: int) -> list[str]:
    """Break text at spaces into at most max_lines lines of about width characters; an ellipsis marks a cut."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: max(width - 1, 1)] + "\u2026"
    return [line if len(line) <= width else line[: max(width - 1, 1)] + "\u2026" for line in lines]


@dataclass
class _Arrow:
    message: Message
    src_row: int  # 0: the initial state
    dst_row: Optional[int]  # None: still in flight at the end
    dropped: bool = False
    duplicate: bool = False


def _arrows(trace: Sequence[Step]) -> list[_Arrow]:
    """Match each copy of a message that enters the bag with the step that takes it out (first in, first out)."""
    open_sends: dict[Message, deque[_Arrow]] = defaultdict(deque)
    arrows: list[_Arrow] = []
    for m, count in trace[0].state.messages:
        for _ in range(count):
            a = _Arrow(m, 0, None)
            arrows.append(a)
            open_sends[m].append(a)
    for row in range(1, len(trace)):
        before = dict(trace[row - 1].state.messages)
        after = dict(trace[row].state.messages)
        action = trace[row].action
        for m in sorted(set(before) | set(after)):
            delta = after.get(m, 0) - before.get(m, 0)
            for _ in range(max(delta, 0)):
                a = _Arrow(m, row, None, duplicate=action is not None and action.name == ActionName.DuplicateMessage)
                arrows.append(a)
                open_sends[m].append(a)
            for _ in range(max(-delta, 0)):
                if open_sends[m]:
                    a = open_sends[m].popleft()
                else:  # a message the trace did not see enter: start it at the top
                    a = _Arrow(m, 0, None)
                    arrows.append(a)
                a.dst_row = row
                a.dropped = action is not None and action.name == ActionName.DropMessage
    return arrows


def _role_term(srv: ServerState) -> str:
    return f"{srv.role} t{srv.current_term}"


def _server_summary(srv: ServerState) -> str:
    log = ",".join(f"t{e.term}:v{e.value}" for e in srv.log)
    return f"log [{log}] commit={srv.commit_index}"


class _Lanes(NamedTuple):
    """Where the sequence diagram's rows and columns are."""

    top: float
    row_h: int
    left: float
    col_w: float
    net_x: float
    detail_x: float
    detail_w: float
    x_of: list[float]
    y_of: list[float]


def _step_row(lay: _Lanes, trace: Sequence[Step], row: int, details: list[str]) -> list[str]:
    """One row: its step number, the action's box (at its server, or the network's), what changed."""
    left, col_w, net_x, detail_x, detail_w, x_of, y_of = lay.left, lay.col_w, lay.net_x, lay.detail_x, lay.detail_w, lay.x_of, lay.y_of
    out: list[str] = []
    y = y_of[row]
    out.append(_text(left - 8, y + 4, str(row), size=11, anchor="end", fill="#57606a"))
    step = trace[row]
    if step.action is None:
        out.append(_text(x_of[0] - col_w / 2 + 8, y + 4, "Init", size=11, fill="#57606a"))
        return out
    actor = actor_of(step.action)
    full = str(step.action)
    if actor is None:
        out.append(
            f'<g class="action"><title>{esc(full)}</title>'
            f'<rect x="{net_x - 34:.1f}" y="{y - 11:.1f}" width="68" height="22" rx="11" fill="#fff8c5" stroke="#bf8700"/>'
            + _text(net_x, y + 4, "drop" if step.action.name == ActionName.DropMessage else "dup", size=10, anchor="middle")
            + "</g>"
        )
    else:
        text = box_label(step.action)
        bw = max(_text_width(text, 10) + 14, 70)
        out.append(
            f'<g class="action"><title>{esc(full)}</title>'
            f'<rect x="{x_of[actor] - bw / 2:.1f}" y="{y - 11:.1f}" width="{bw:.1f}" height="22" rx="4" fill="#ffffff" stroke="#24292f"/>'
            + _text(x_of[actor], y + 4, text, size=10, anchor="middle")
            + "</g>"
        )
        before, after = trace[row - 1].state.servers[actor], step.state.servers[actor]
        if (before.role, before.current_term) != (after.role, after.current_term):
            out.append(
                _text(x_of[actor] + bw / 2 + 4, y + 4, f"{ROLE_SHORT.get(after.role, '?')} t{after.current_term}", size=10, fill=ROLE_COLOURS.get(after.role, "#333"), weight="bold")
            )
    d = details[row - 1]
    lines = _wrap(d, int((detail_w - 10) / (10 * 0.62)), 2)
    first_y = y + 4 - 6 * (len(lines) - 1)
    spans = "".join(f'<tspan x="{detail_x:.1f}" y="{first_y + 12 * k:.1f}">{esc(line)}</tspan>' for k, line in enumerate(lines))
    out.append(f'<text font-size="10" fill="#57606a"><title>{esc(d)}</title>{spans}</text>')
    return out


def _arrow(lay: _Lanes, a: _Arrow, bottom: float) -> list[str]:
    """One message's arrow from its send to its receipt (or its loss, or the bottom: still in flight)."""
    x_of, y_of = lay.x_of, lay.y_of
    out: list[str] = []
    x2: float
    y2: float
    m = a.message
    colour = MESSAGE_COLOURS.get(m.mtype, "#333")
    x1 = x_of[m.msource] if a.src_row > 0 else x_of[m.msource]
    y1 = y_of[a.src_row] + (6 if a.src_row > 0 else 0)
    if a.dst_row is None:
        x2, y2 = x_of[m.mdest], bottom + 8
        dash = ' stroke-dasharray="6,4"'
    elif a.dropped:
        x2, y2 = (x1 + x_of[m.mdest]) / 2 if m.msource != m.mdest else x1 + 40, y_of[a.dst_row]
        dash = ' stroke-dasharray="3,3"'
    else:
        x2, y2 = x_of[m.mdest], y_of[a.dst_row] - 11
        dash = ""
    tip = f"{m.mtype} s{m.msource}\u2192s{m.mdest}: {message_label(m)}" + (" (duplicate)" if a.duplicate else "")
    if a.dst_row is None:
        tip += " (still in flight)"
    elif a.dropped:
        tip += " (lost)"
    marker = "" if a.dropped else f' marker-end="url(#ah-{m.mtype})"'
    if m.msource == m.mdest and not a.dropped:
        cx = x1 + 70
        path = f"M{x1 + 4:.1f},{y1:.1f} C{cx:.1f},{y1:.1f} {cx:.1f},{y2:.1f} {x2 + 4:.1f},{y2:.1f}"
    else:
        path = f"M{x1:.1f},{y1:.1f} L{x2:.1f},{y2:.1f}"
    out.append(
        f'<g class="message"><title>{esc(tip)}</title>'
        f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="1.6"{dash}{marker}/>'
    )
    if a.dropped:
        out.append(
            f'<path d="M{x2 - 5:.1f},{y2 - 5:.1f} L{x2 + 5:.1f},{y2 + 5:.1f} M{x2 - 5:.1f},{y2 + 5:.1f} L{x2 + 5:.1f},{y2 - 5:.1f}" stroke="#d1242f" stroke-width="2"/>'
        )
    # The label sits just after the send, on the side the arrow goes.
    if m.msource == m.mdest and not a.dropped:
        lx, anchor = x1 + 60, "start"
    else:
        lx, anchor = x1 + (8 if x2 >= x1 else -8), ("start" if x2 >= x1 else "end")
    short = message_label(m).split(" prev=")[0].split(" last=")[0]
    out.append(_text(lx, y1 + 14, short + (" (dup)" if a.duplicate else ""), size=9, anchor=anchor, fill=colour))
    out.append("</g>")
    return out


def _zebra(top: float, row_h: int, steps: int, width: float, highlight_step: Optional[int], highlight_kind: str) -> list[str]:
    """Alternate row shading, and the highlighted row (red for a violation, green for a witness)."""
    out: list[str] = []
    for row in range(steps):
        row_top = top + row * row_h
        if highlight_step is not None and row == highlight_step:
            fill = "#fde2e1" if highlight_kind == "violation" else "#dff5e3"
            stroke = "#d1242f" if highlight_kind == "violation" else "#2e9d4f"
            out.append(f'<rect class="highlight" x="2" y="{row_top:.0f}" width="{width - 4:.0f}" height="{row_h}" fill="{fill}" stroke="{stroke}" stroke-width="2"/>')
        elif row % 2:
            out.append(f'<rect x="0" y="{row_top:.0f}" width="{width:.0f}" height="{row_h}" fill="#f6f8fa"/>')
    return out


def sequence_diagram(
    trace: Sequence[Step],
    *,
    title: str = "",
    highlight_step: Optional[int] = None,
    highlight_label: str = "",
    highlight_kind: str = "violation",
    standalone: bool = False,
    loop: Optional[int] = None,
) -> str:
    """A message-sequence diagram of a trace (see the module docstring).

    `highlight_step` is the row to mark (the violating step, or the state a witness
    reaches); `highlight_kind` is `violation` (red) or `witness` (green).  `loop`, for a
    lasso, is the row the last one steps back to: drawn as a bracket in the left margin
    from the last row back up to it.
    """
    n_servers = len(trace[0].state.servers)
    steps = len(trace)
    row_h = 36
    left = 46  # step numbers
    col_w = 230 if n_servers <= 2 else 200
    top = 58 + (22 if title else 0)
    net_x = left + n_servers * col_w + 10
    detail_x = net_x + 70
    details: list[str] = []
    for row in range(1, steps):
        parts = []
        for k, (was, now) in enumerate(zip(trace[row - 1].state.servers, trace[row].state.servers)):
            diffs = server_changes(was, now)
            if diffs:
                parts.append(f"s{k}: " + "; ".join(diffs))
        details.append(" | ".join(parts) if parts else "(servers unchanged)")
    detail_cap = 980 - n_servers * col_w
    detail_w = min(max((_text_width(d, 10) for d in details), default=0) + 20, max(detail_cap, 360))
    width = detail_x + detail_w
    footer_h = 56
    height = top + steps * row_h + footer_h + 10
    x_of = [left + col_w * k + col_w / 2 for k in range(n_servers)]
    y_of = [top + row * row_h + row_h / 2 for row in range(steps)]
    label = title or "message sequence diagram"
    out = [_open(width, height, label, standalone, "seq")]
    out.append(
        "<defs>"
        + "".join(
            f'<marker id="ah-{mt}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
            f'<path d="M0,0 L10,5 L0,10 z" fill="{c}"/></marker>'
            for mt, c in MESSAGE_COLOURS.items()
        )
        + "</defs>"
    )
    out.append(f'<rect x="0" y="0" width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>')
    if title:
        out.append(_text(10, 22, title, size=14, weight="bold"))
    out.extend(_zebra(top, row_h, steps, width, highlight_step, highlight_kind))
    # Headers.
    init = trace[0].state
    for k in range(n_servers):
        hy = top - 34
        out.append(f'<rect x="{x_of[k] - 60:.1f}" y="{hy - 16:.1f}" width="120" height="22" rx="4" fill="#24292f"/>')
        out.append(_text(x_of[k], hy, f"server s{k}", size=12, anchor="middle", fill="#ffffff", weight="bold"))
        out.append(_text(x_of[k], hy + 20, _role_term(init.servers[k]), size=10, anchor="middle", fill="#57606a"))
    out.append(_text(net_x, top - 30, "network", size=11, anchor="middle", fill="#57606a"))
    out.append(_text(detail_x, top - 30, "what changed", size=11, fill="#57606a"))
    # Lifelines, one segment per row in the role the server has after that step.
    for k in range(n_servers):
        for row in range(steps):
            srv = trace[row].state.servers[k]
            y0 = top + row * row_h
            out.append(
                f'<rect x="{x_of[k] - 3:.1f}" y="{y0:.1f}" width="6" height="{row_h}" fill="{ROLE_COLOURS.get(srv.role, "#999")}">'
                f"<title>{esc(f's{k} after step {row}: {_role_term(srv)}, {_server_summary(srv)}')}</title></rect>"
            )
    out.append(f'<line x1="{net_x}" y1="{top}" x2="{net_x}" y2="{top + steps * row_h}" stroke="#afb8c1" stroke-dasharray="2,4"/>')
    lay = _Lanes(top, row_h, left, col_w, net_x, detail_x, detail_w, x_of, y_of)
    for row in range(steps):
        out.extend(_step_row(lay, trace, row, details))
    bottom = top + steps * row_h
    for a in _arrows(trace):
        out.extend(_arrow(lay, a, bottom))
    # Footer: each server's final state.
    last = trace[-1].state
    fy = bottom + 22
    for k in range(n_servers):
        srv = last.servers[k]
        out.append(_text(x_of[k], fy, _role_term(srv), size=10, anchor="middle", fill=ROLE_COLOURS.get(srv.role, "#333"), weight="bold"))
        out.append(_text(x_of[k], fy + 14, _server_summary(srv), size=10, anchor="middle", fill="#57606a"))
    if loop is not None:
        out.extend(_loop_bracket(y_of[loop], y_of[-1], steps - 1 - loop))
    if highlight_step is not None and highlight_label:
        colour = "#d1242f" if highlight_kind == "violation" else "#2e9d4f"
        out.append(_text(detail_x, fy + 14, highlight_label, size=11, fill=colour, weight="bold"))
    out.append("</svg>")
    return "".join(out)


def _loop_bracket(y_back: float, y_last: float, cycle_steps: int) -> list[str]:
    """The lasso's loop in the left margin: from the last row back up to the row it returns to."""
    colour = "#8250df"
    if cycle_steps == 0:
        return [_text(4, y_last + 4, "↻", size=14, fill=colour, weight="bold", extra='class="loop"')]
    return [
        f'<path class="loop" d="M14,{y_last:.1f} H6 V{y_back:.1f} H14" fill="none" stroke="{colour}" stroke-width="2"/>',
        f'<path d="M14,{y_back - 4:.1f} L20,{y_back:.1f} L14,{y_back + 4:.1f} z" fill="{colour}"/>',
        _text(2, (y_back + y_last) / 2, "↻", size=12, fill=colour, weight="bold"),
    ]


# ------------------------------------------------------------------ bar chart


def _nice_step(top: int, ticks: int = 5) -> int:
    raw = max(top / ticks, 1)
    magnitude = 10 ** (len(str(int(raw))) - 1)
    for mult in (1, 2, 5, 10):
        if mult * magnitude >= raw:
            return int(mult * magnitude)
    return int(10 * magnitude)


def depth_chart(counts: Sequence[int], *, title: str = "distinct states per BFS depth", standalone: bool = False) -> str:
    """A bar chart of how many new states each BFS depth found."""
    n = max(len(counts), 1)
    bar_w = max(8.0, min(40.0, 900.0 / n))
    left, top, plot_h = 70, 40, 240
    width = left + n * bar_w + 30
    height = top + plot_h + 50
    peak = max(counts, default=0) or 1
    step = _nice_step(peak)
    y_max = ((peak + step - 1) // step) * step
    out = [_open(max(width, 320), height, title, standalone, "chart")]
    out.append(f'<rect x="0" y="0" width="{max(width, 320):.0f}" height="{height}" fill="#ffffff"/>')
    out.append(_text(10, 20, title, size=13, weight="bold"))
    for tick in range(0, y_max + 1, step):
        y = top + plot_h - plot_h * tick / y_max
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + n * bar_w:.1f}" y2="{y:.1f}" stroke="#eaeef2"/>')
        out.append(_text(left - 6, y + 4, f"{tick:,}", size=10, anchor="end", fill="#57606a"))
    for depth, count in enumerate(counts):
        h = plot_h * count / y_max
        x = left + depth * bar_w
        out.append(
            f'<rect class="bar" x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}" fill="#1f6fc5">'
            f"<title>{esc(f'depth {depth}: {count:,} states')}</title></rect>"
        )
        if n <= 40 or depth % max(1, n // 20) == 0:
            out.append(_text(x + bar_w / 2, top + plot_h + 14, str(depth), size=9, anchor="middle", fill="#57606a"))
    out.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + n * bar_w:.1f}" y2="{top + plot_h}" stroke="#57606a"/>')
    out.append(_text(left + n * bar_w / 2, top + plot_h + 34, "BFS depth (steps from the initial state)", size=11, anchor="middle", fill="#57606a"))
    out.append("</svg>")
    return "".join(out)


# ---------------------------------------------------------------- state graph


def _layers(result: "ExploreResult") -> list[list[int]]:
    """Node ids per BFS depth, ordered within each layer by the mean position of their predecessors."""
    by_depth: dict[int, list[int]] = defaultdict(list)
    for node in range(result.distinct_states):
        by_depth[int(result.depth[node])].append(node)
    g = result.graph
    layers: list[list[int]] = []
    position: dict[int, float] = {}
    for d in sorted(by_depth):
        nodes = by_depth[d]

        def barycentre(node: int) -> tuple[float, int]:
            preds = [position[p] for p in g.predecessors(node) if p in position]
            return (sum(preds) / len(preds) if preds else 0.0, node)

        nodes.sort(key=barycentre)
        for k, node in enumerate(nodes):
            position[node] = k / max(len(nodes) - 1, 1)
        layers.append(nodes)
    return layers


def state_graph(
    result: "ExploreResult",
    *,
    title: str = "",
    marked: Optional[dict[int, str]] = None,
    max_nodes: int = 400,
    standalone: bool = False,
) -> str:
    """The explored graph, one column per BFS depth; green nodes have a leader.

    `marked` maps state ids to a note (a property's name); they get a red ring and
    the note in their tooltip.  Refuses graphs above `max_nodes`, which would not be
    readable.
    """
    n = result.distinct_states
    if n > max_nodes:
        raise ValueError(f"state graph: {n} states is too many to draw (at most {max_nodes}); use a smaller configuration")
    marked = marked or {}
    layers = _layers(result)
    tallest = max(len(layer) for layer in layers)
    gap_x = 70.0
    gap_y = max(12.0, min(40.0, 560.0 / max(tallest, 1)))
    r = max(3.5, min(8.0, gap_y / 2.6))
    left, top = 30.0, 50.0 + (20 if title else 0)
    width = left * 2 + (len(layers) - 1) * gap_x + 200
    height = top + tallest * gap_y + 60
    pos: dict[int, tuple[float, float]] = {}
    for d, layer in enumerate(layers):
        offset = (tallest - len(layer)) * gap_y / 2
        for k, node in enumerate(layer):
            pos[node] = (left + d * gap_x, top + offset + k * gap_y + gap_y / 2)
    label = title or "state graph"
    out = [_open(width, height, label, standalone, "graph")]
    out.append(f'<rect x="0" y="0" width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>')
    if title:
        out.append(_text(10, 20, title, size=13, weight="bold"))
    for d in range(len(layers)):
        out.append(_text(left + d * gap_x, top - 12, f"d{d}", size=9, anchor="middle", fill="#57606a"))
    g = result.graph
    seen_pairs: set[tuple[int, int]] = set()
    for src, dst, key in sorted(g.edges(keys=True)):
        if src == dst or (src, dst) in seen_pairs:
            continue
        seen_pairs.add((src, dst))
        names = sorted({result.labels[k].name for k in g[src][dst]})
        (x1, y1), (x2, y2) = pos[src], pos[dst]
        back = int(result.depth[dst]) <= int(result.depth[src])
        colour = "#d0d7de" if back else "#8c959f"
        if back:
            # Back and sideways edges bow out so that they do not hide forward ones.
            length = max(((x2 - x1) ** 2 + (y2 - y1) ** 2) ** 0.5, 1.0)
            mx, my = (x1 + x2) / 2 + 16 * (y2 - y1) / length, (y1 + y2) / 2 - 16 * (x2 - x1) / length
            d_attr = f"M{x1:.1f},{y1:.1f} Q{mx:.1f},{my:.1f} {x2:.1f},{y2:.1f}"
        else:
            d_attr = f"M{x1:.1f},{y1:.1f} L{x2:.1f},{y2:.1f}"
        out.append(
            f'<path class="edge" d="{d_attr}" fill="none" stroke="{colour}" stroke-width="0.8">'
            f"<title>{esc(f'{src} -> {dst}: ' + ', '.join(names))}</title></path>"
        )
    for node, (x, y) in pos.items():
        s = result.state(node)
        leader = any(srv.role == LEADER for srv in s.servers)
        fill = "#2e9d4f" if leader else "#9aa5b1"
        roles = " ".join(f"s{k}:{ROLE_SHORT.get(srv.role, '?')}t{srv.current_term}" for k, srv in enumerate(s.servers))
        note = f"state {node} (depth {int(result.depth[node])}): {roles}, {len(s.messages)} message(s)"
        ring = ""
        if node in marked:
            note += f"; {marked[node]}"
            ring = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r + 3.5:.1f}" fill="none" stroke="#d1242f" stroke-width="2"/>'
        if node == 0:
            ring += f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r + 3.5:.1f}" fill="none" stroke="#24292f" stroke-width="1.5"/>'
        out.append(f'<g class="node"><title>{esc(note)}</title>{ring}<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{fill}" stroke="#ffffff" stroke-width="1"/></g>')
    # Legend.
    ly = height - 22
    items: Iterable[tuple[str, str]] = (("#9aa5b1", "no leader"), ("#2e9d4f", "a leader exists"))
    x = 12.0
    for colour, text in items:
        out.append(f'<circle cx="{x + 6:.1f}" cy="{ly:.1f}" r="6" fill="{colour}"/>')
        out.append(_text(x + 16, ly + 4, text, size=10))
        x += 26 + _text_width(text, 10)
    out.append(f'<circle cx="{x + 6:.1f}" cy="{ly:.1f}" r="7" fill="none" stroke="#d1242f" stroke-width="2"/>')
    out.append(_text(x + 18, ly + 4, "witness / violation state", size=10))
    x += 30 + _text_width("witness / violation state", 10)
    out.append(f'<circle cx="{x + 6:.1f}" cy="{ly:.1f}" r="7" fill="none" stroke="#24292f" stroke-width="1.5"/>')
    out.append(_text(x + 18, ly + 4, "initial state", size=10))
    out.append("</svg>")
    return "".join(out)

