"""The case lifecycle as inline SVG, drawn on the server, with the path one case took marked.

No script: the page's CSP forbids inline script, not inline SVG markup. Boxes and arrows come
from the move table (`workflows.spec.TABLE`); every label is escaped here, because the page
marks the result safe. Moves that keep the state (notes, corrections) are not drawn; refusal
and withdrawal, possible from every open state, are drawn only where this case took them (a
line from each open state would hide the rest).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

from states.catalogue import TERMINAL, State, label
from workflows.spec import TABLE

# Where each state sits: (column, row) on a grid; the usual path runs along the top row.
_GRID: dict[State, tuple[float, float]] = {
    State.draft: (0, 0),
    State.submitted: (1, 0),
    State.file_number_issued: (2, 0),
    State.shortlisted: (3, 0),
    State.quota_allotted: (4, 0),
    State.fee_paid: (5, 0),
    State.evisa_issued: (6, 0),
    State.documents_requested: (2, 1),
    State.mainland_consent: (5, 1),
    State.withdrawn: (1, 2),
    State.refused: (3, 2),
    State.lapsed: (4.6, 2),
}
_BOX_W, _BOX_H = 150, 46
_COL, _ROW = 190, 96
_PAD = 14
_WIDTH = int(_PAD * 2 + _COL * max(c for c, _ in _GRID.values()) + _BOX_W)
_HEIGHT = int(_PAD * 2 + _ROW * 2 + _BOX_H)
# The sources from which a move counts as "from anywhere" (drawn only when taken).
_ANYWHERE = 4

_INK, _MUTED, _PATH, _CURRENT = "#1d2430", "#9aa3b2", "#0b5cad", "#ffd54f"


def _edges() -> list[tuple[State, State, str, bool]]:
    """(source, destination, trigger, from anywhere) for every move that changes the state."""
    out: list[tuple[State, State, str, bool]] = []
    for move in TABLE:
        if move.dest is None:
            continue
        anywhere = len(move.sources) >= _ANYWHERE
        out.extend(
            (source, move.dest, move.trigger.value, anywhere)
            for source in move.sources
            if source != move.dest
        )
    return out


EDGES = _edges()


def path_of(history: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """The state changes of a case's history rows, in order."""
    return [
        (str(r["from_state"]), str(r["to_state"]))
        for r in history
        if r["from_state"] != r["to_state"]
    ]


def _centre(state: State) -> tuple[float, float]:
    col, row = _GRID[state]
    return _PAD + col * _COL + _BOX_W / 2, _PAD + row * _ROW + _BOX_H / 2


def _to_border(dx: float, dy: float) -> float:
    """How far along (dx, dy) from a box's centre its border is (as a fraction of 1)."""
    fx = (_BOX_W / 2 + 4) / abs(dx) if dx else math.inf
    fy = (_BOX_H / 2 + 4) / abs(dy) if dy else math.inf
    return min(fx, fy)


def _line(source: State, dest: State, offset: float) -> tuple[float, float, float, float]:
    """The arrow's ends between the two boxes' borders, shifted sideways by ``offset``."""
    x1, y1 = _centre(source)
    x2, y2 = _centre(dest)
    dx, dy = x2 - x1, y2 - y1
    length = math.hypot(dx, dy) or 1.0
    nx, ny = -dy / length * offset, dx / length * offset
    start = _to_border(dx, dy)
    end = _to_border(-dx, -dy)
    return (
        x1 + dx * start + nx,
        y1 + dy * start + ny,
        x2 - dx * end + nx,
        y2 - dy * end + ny,
    )


def _label_lines(text: str) -> list[str]:
    """A state's label on one line, or two when it is long (split at the middle space)."""
    if len(text) <= 18 or " " not in text:
        return [text]
    middle = len(text) // 2
    spaces = [i for i, ch in enumerate(text) if ch == " "]
    cut = min(spaces, key=lambda i: abs(i - middle))
    return [text[:cut], text[cut + 1 :]]


def lifecycle_svg(
    current: str,
    path: Iterable[tuple[str, str]],
    *,
    lang: str = "en",
    title: str = "Lifecycle",
) -> str:
    """The lifecycle as an ``<svg>`` element: states the case went through and the moves it
    took drawn in the path colour, its current state filled. Every text is escaped."""
    taken = {(a, b) for a, b in path}
    visited = {State.draft.value, current} | {s for pair in taken for s in pair}
    pairs = {(s.value, d.value) for s, d, _, _ in EDGES}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {_HEIGHT}" '
        f'width="{_WIDTH}" height="{_HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'class="lifecycle" font-family="system-ui, sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        "<defs>",
        *(
            f'<marker id="arrow-{name}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" '
            f'markerHeight="9" markerUnits="userSpaceOnUse" orient="auto-start-reverse">'
            f'<path d="M0,0 L10,5 L0,10 z" '
            f'fill="{colour}"/></marker>'
            for name, colour in (("plain", _MUTED), ("path", _PATH))
        ),
        "</defs>",
    ]
    drawn: set[tuple[str, str]] = set()
    for source, dest, trigger, anywhere in EDGES:
        pair = (source.value, dest.value)
        on_path = pair in taken
        if pair in drawn or (anywhere and not on_path):
            continue
        drawn.add(pair)
        offset = 7.0 if (dest.value, source.value) in pairs else 0.0
        x1, y1, x2, y2 = _line(source, dest, offset)
        kind = "path" if on_path else "plain"
        colour, width = (_PATH, 3) if on_path else (_MUTED, 1.2)
        parts.append(
            f'<line class="edge {kind}" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
            f'stroke="{colour}" stroke-width="{width}" marker-end="url(#arrow-{kind})">'
            f"<title>{escape(trigger)}</title></line>"
        )
    for state, (col, row) in _GRID.items():
        x, y = _PAD + col * _COL, _PAD + row * _ROW
        is_current = state.value == current
        on_path = state.value in visited
        fill = _CURRENT if is_current else "#e8f0fb" if on_path else "#ffffff"
        stroke = _PATH if on_path else _MUTED
        width = 2.5 if on_path else 1
        dash = ' stroke-dasharray="4 3"' if state in TERMINAL and not on_path else ""
        classes = "state" + (" current" if is_current else "") + (" visited" if on_path else "")
        text = label(state.value, lang)
        lines = _label_lines(text)
        parts.append(f'<g class="{classes}" data-state="{escape(state.value)}">')
        parts.append(f"<title>{escape(text)}</title>")
        parts.append(
            f'<rect x="{x}" y="{y}" width="{_BOX_W}" height="{_BOX_H}" rx="8" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="{width}"{dash}/>'
        )
        first = y + _BOX_H / 2 + 4 - (len(lines) - 1) * 7
        for i, line in enumerate(lines):
            weight = ' font-weight="bold"' if is_current else ""
            parts.append(
                f'<text x="{x + _BOX_W / 2:.1f}" y="{first + i * 14:.1f}" text-anchor="middle" '
                f'fill="{_INK}"{weight}>{escape(line)}</text>'
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)
