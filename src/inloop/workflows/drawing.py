"""A workflow as a picture: Mermaid text, and SVG drawn here (no external tool).

The SVG is laid out in layers from the start node (longest path over the forward edges;
edges back to an earlier node curve round the right side), with the order in each layer
improved by barycentre sweeps. Built with ``xml.etree``, which escapes every label and
attribute; colours and widths are presentation attributes, not CSS, so the desk's strict
Content-Security-Policy allows it. A run's picture marks the node(s) it is at and the
path taken so far.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from inloop.workflows.compiled import CompiledEdge, Workflow

SVG_NS = "http://www.w3.org/2000/svg"
INK = "#1d1d1f"
MUTED = "#5f6368"
TAKEN = "#1f5fbf"
CURRENT = "#b4540a"
FILLS = {"human": "#fff4d6", "llm": "#efe6fb", "function": "#e3eefc",
         "http": "#e2f4e4", "end": "#ececec"}  # fmt: skip
NODE_H, ROW, GAP, MARGIN = 46.0, 96.0, 36.0, 24.0
_XML_INVALID = str.maketrans({c: None for c in [*range(0, 9), 11, 12, *range(14, 32)]})


@dataclass
class Marks:
    """What a run has done: the nodes it passed, the edges it took, where it is now."""

    visited: set[str] = field(default_factory=set)
    current: set[str] = field(default_factory=set)
    edges: set[tuple[str, str, int | None]] = field(default_factory=set)

    @classmethod
    def of_path(
        cls, workflow: Workflow, path: Sequence[tuple[str, int | None]], current: Collection[str]
    ) -> Marks:
        """From a run's path (node, edge index taken) and the node(s) it is at."""
        marks = cls(current=set(current))
        steps = [node for node, _ in path] + list(current)
        for (node, index), following in zip(path, steps[1:], strict=False):
            marks.visited.add(node)
            marks.edges.add((node, following, index))
        marks.visited.update(node for node, _ in path)
        return marks

    def took(self, edge: CompiledEdge) -> bool:
        if edge.index is not None:
            return (edge.source, edge.target, edge.index) in self.edges
        return any(s == edge.source and t == edge.target for s, t, _ in self.edges)


def _edges(workflow: Workflow) -> list[CompiledEdge]:
    found: list[CompiledEdge] = []
    for node in workflow.nodes.values():
        found.extend(node.outgoing)
        if node.on_error is not None:
            found.append(node.on_error)
    return found


# -- Mermaid --------------------------------------------------------------------------


_SHAPES = {
    "human": ('{{"', '"}}'), "llm": ('[["', '"]]'), "function": ('["', '"]'),
    "http": ('[/"', '"/]'), "end": ('(["', '"])'),
}  # fmt: skip


def mermaid(workflow: Workflow, marks: Marks | None = None) -> str:
    """The graph as Mermaid flowchart text (paste it into any Mermaid renderer)."""
    lines = ["flowchart TD"]
    for node in workflow.nodes.values():
        opening, closing = _SHAPES[node.type]
        lines.append(f"    {node.id}{opening}{_mm(node.id)}<br/><i>{node.type}</i>{closing}")
    for edge in _edges(workflow):
        error = edge in [n.on_error for n in workflow.nodes.values()]
        text = "on error" if error else edge.label
        arrow = "-.->" if error else "-->"
        label = f'|"{_mm(text)}"|' if text else ""
        lines.append(f"    {edge.source} {arrow}{label} {edge.target}")
    if marks is not None:
        lines.append(f"    classDef visited stroke:{TAKEN},stroke-width:2px")
        lines.append(f"    classDef current stroke:{CURRENT},stroke-width:4px")
        visited = sorted(marks.visited - marks.current)
        if visited:
            lines.append(f"    class {','.join(visited)} visited")
        if marks.current:
            lines.append(f"    class {','.join(sorted(marks.current))} current")
    lines.append(f"    style {workflow.start} stroke-width:3px")
    return "\n".join(lines) + "\n"


def _mm(text: str) -> str:
    escaped = text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;")
    return escaped.replace(">", "#gt;").replace("\n", " ")


# -- layout ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2


def _layers(workflow: Workflow) -> tuple[dict[str, int], set[tuple[str, str]]]:
    """Each node's layer (longest path from the start over forward edges) and the back edges."""
    edges = _edges(workflow)
    targets: dict[str, list[str]] = {n: [] for n in workflow.nodes}
    for edge in edges:
        targets[edge.source].append(edge.target)
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}
    order: list[str] = []
    stack: list[tuple[str, int]] = [(workflow.start, 0)]
    while stack:  # an iterative DFS: on the stack (1), done (2)
        node, i = stack.pop()
        if i == 0:
            if state.get(node):
                continue
            state[node] = 1
        if i < len(targets[node]):
            stack.append((node, i + 1))
            nxt = targets[node][i]
            if state.get(nxt) == 1:
                back.add((node, nxt))
            elif not state.get(nxt):
                stack.append((nxt, 0))
        else:
            state[node] = 2
            order.append(node)
    layer = {n: 0 for n in workflow.nodes}
    for node in reversed(order):  # reverse postorder: a topological order of forward edges
        for nxt in targets[node]:
            if (node, nxt) not in back:
                layer[nxt] = max(layer[nxt], layer[node] + 1)
    return layer, back


def layout(workflow: Workflow) -> tuple[dict[str, Box], set[tuple[str, str]], float, float]:
    layer, back = _layers(workflow)
    rows: dict[int, list[str]] = {}
    for node in workflow.nodes:  # definition order first: stable, and usually sensible
        rows.setdefault(layer[node], []).append(node)
    neighbours: dict[str, list[str]] = {n: [] for n in workflow.nodes}
    for edge in _edges(workflow):
        if (edge.source, edge.target) not in back:
            neighbours[edge.source].append(edge.target)
            neighbours[edge.target].append(edge.source)
    for _ in range(4):
        for depth in sorted(rows):
            position = {n: i for row in rows.values() for i, n in enumerate(row)}
            rows[depth].sort(key=lambda n: _barycentre(n, neighbours[n], position, layer, depth))
    width = {n: min(240.0, max(120.0, 8.0 * len(n) + 28)) for n in workflow.nodes}
    row_width = {d: sum(width[n] for n in row) + GAP * (len(row) - 1) for d, row in rows.items()}
    total = max(row_width.values(), default=0.0)
    boxes: dict[str, Box] = {}
    gutter = 48.0  # room on the left for edges that pass layers
    for depth, row in rows.items():
        x = MARGIN + gutter + (total - row_width[depth]) / 2
        for node in row:
            boxes[node] = Box(x, MARGIN + depth * ROW, width[node])
            x += width[node] + GAP
    extra = 40.0 + 14.0 * len(back) if back else 0.0
    return (
        boxes,
        back,
        total + 2 * MARGIN + gutter + extra + 100,  # room for edge labels on the right
        MARGIN * 2 + (max(rows) + 1) * ROW - (ROW - NODE_H),
    )


def _barycentre(
    node: str, others: list[str], position: dict[str, int], layer: dict[str, int], depth: int
) -> float:
    near = [position[o] for o in others if layer[o] != depth]
    return sum(near) / len(near) if near else position[node]


# -- SVG ------------------------------------------------------------------------------


def svg(
    workflow: Workflow, marks: Marks | None = None, *, element_id: str = "workflow-graph"
) -> str:
    """The graph as an SVG document (text): role img, a title and a description."""
    marks = marks or Marks()
    boxes, back, width, height = layout(workflow)
    root = ET.Element(
        "svg",
        {
            "xmlns": SVG_NS,
            "viewBox": f"0 0 {_n(width)} {_n(height)}",
            "width": _n(width),
            "height": _n(height),
            "role": "img",
            "aria-labelledby": f"{element_id}-title {element_id}-desc",
            "id": element_id,
            "class": "workflow-graph",
            "font-family": "system-ui, sans-serif",
        },
    )
    ET.SubElement(root, "title", id=f"{element_id}-title").text = f"Workflow {workflow.name}"
    ET.SubElement(root, "desc", id=f"{element_id}-desc").text = _description(workflow, marks)
    defs = ET.SubElement(root, "defs")
    for name, colour in (("arrow", MUTED), ("arrow-taken", TAKEN)):
        marker = ET.SubElement(
            defs, "marker",
            {"id": f"{element_id}-{name}", "viewBox": "0 0 10 10", "refX": "9", "refY": "5",
             "markerWidth": "7", "markerHeight": "7", "orient": "auto-start-reverse"},
        )  # fmt: skip
        ET.SubElement(marker, "path", {"d": "M 0 0 L 10 5 L 0 10 z", "fill": colour})
    errors = {id(n.on_error) for n in workflow.nodes.values() if n.on_error is not None}
    right = max((b.x + b.w for b in boxes.values()), default=0.0)
    edges = _edges(workflow)
    counts: dict[tuple[str, str], int] = {}
    for edge in edges:
        counts[edge.source, edge.target] = counts.get((edge.source, edge.target), 0) + 1
    seen: dict[tuple[str, str], int] = {}
    lane = 0
    left = min((b.x for b in boxes.values()), default=0.0)
    for number, edge in enumerate(edges):
        pair = (edge.source, edge.target)
        rank = seen.get(pair, 0)
        seen[pair] = rank + 1
        backwards = pair in back or boxes[edge.target].y <= boxes[edge.source].y
        lane += backwards
        x = right + 12 + 14 * lane
        left_x = left - 12 - 6 * (number % 4)
        twin = (rank, counts[pair])
        _edge(root, edge, boxes, back, marks, element_id, id(edge) in errors, x, twin, left_x)
    for node in workflow.nodes.values():
        _node(root, node.id, node.type, boxes[node.id], node.id == workflow.start, marks)
    return ET.tostring(_clean(root), encoding="unicode")


def _edge(
    root: ET.Element,
    edge: CompiledEdge,
    boxes: dict[str, Box],
    back: set[tuple[str, str]],
    marks: Marks,
    element_id: str,
    is_error: bool,
    lane_x: float,
    twin: tuple[int, int],
    left_x: float,
) -> None:
    """One edge: down to a later layer, or round the right side back up to an earlier one.
    ``twin`` counts the edges drawn before between the same two nodes (offset, not stacked)."""
    a, b = boxes[edge.source], boxes[edge.target]
    taken = marks.took(edge)
    rank, twins = twin
    shift = 16.0 * (rank - (twins - 1) / 2)
    skips = b.y - a.y > ROW + 1 and any(
        box.y > a.y
        and box.y < b.y
        and box.x < max(a.cx, b.cx) + 20
        and box.x + box.w > min(a.cx, b.cx) - 20
        for box in boxes.values()
    )
    if skips:  # past the layers between: round the left side, not through their nodes
        x1, y1 = a.cx + shift, a.y + NODE_H
        x2, y2 = b.cx + shift, b.y - 2
        d = (
            f"M {_n(x1)} {_n(y1)} C {_n(x1)} {_n(y1 + 18)}, {_n(left_x)} {_n(y1 + 18)}, "
            f"{_n(left_x)} {_n(y1 + 30)} L {_n(left_x)} {_n(y2 - 30)} "
            f"C {_n(left_x)} {_n(y2 - 18)}, {_n(x2)} {_n(y2 - 18)}, {_n(x2)} {_n(y2)}"
        )
        label_at, anchor = (left_x - 4, (y1 + y2) / 2), "end"
    elif (edge.source, edge.target) in back or b.y <= a.y:
        x1, y1 = a.cx + shift, a.y + NODE_H
        x2, y2 = b.x + b.w + 2, b.y + NODE_H / 2 + shift
        below = y1 + 18
        d = (
            f"M {_n(x1)} {_n(y1)} C {_n(x1)} {_n(below)}, {_n(lane_x)} {_n(below)}, "
            f"{_n(lane_x)} {_n(y1)} L {_n(lane_x)} {_n(y2 + 16)} "
            f"C {_n(lane_x)} {_n(y2)}, {_n(x2 + 16)} {_n(y2)}, {_n(x2)} {_n(y2)}"
        )
        label_at, anchor = (lane_x + 4, (y1 + y2) / 2), "start"
    else:
        x1, y1 = a.cx + shift, a.y + NODE_H
        x2, y2 = b.cx + shift, b.y - 2
        middle = (y1 + y2) / 2
        d = f"M {_n(x1)} {_n(y1)} C {_n(x1)} {_n(middle)}, {_n(x2)} {_n(middle)}, {_n(x2)} {_n(y2)}"
        label_at, anchor = (x2 + 4, y2 - 10 - 12 * (twins - 1 - rank)), "start"
    attrs = {
        "d": d,
        "fill": "none",
        "stroke": TAKEN if taken else MUTED,
        "stroke-width": "3" if taken else "1.5",
        "marker-end": f"url(#{element_id}-{'arrow-taken' if taken else 'arrow'})",
        "class": "edge taken" if taken else "edge",
        "data-from": edge.source,
        "data-to": edge.target,
    }
    if is_error:
        attrs["stroke-dasharray"] = "5 4"
    if edge.index is not None:
        attrs["data-edge"] = str(edge.index)
    path = ET.SubElement(root, "path", attrs)
    text = "on error" if is_error else edge.label
    ET.SubElement(path, "title").text = f"{edge.source} → {edge.target}" + (
        f" when {text}" if text else ""
    )
    if text:
        label = ET.SubElement(
            root, "text",
            {"x": _n(label_at[0]), "y": _n(label_at[1]), "font-size": "10",
             "text-anchor": anchor, "fill": TAKEN if taken else MUTED, "stroke": "#ffffff",
             "stroke-width": "3", "paint-order": "stroke"},
        )  # fmt: skip
        label.text = _short(text, 26)
        ET.SubElement(label, "title").text = text


def _node(root: ET.Element, node_id: str, kind: str, box: Box, start: bool, marks: Marks) -> None:
    current = node_id in marks.current
    visited = node_id in marks.visited
    state = "current" if current else "visited" if visited else "pending"
    group = ET.SubElement(root, "g", {"class": f"node {kind} {state}", "data-node": node_id})
    ET.SubElement(group, "title").text = f"{node_id} ({kind})" + (
        ": the run is here" if current else ": passed" if visited else ""
    )
    radius = NODE_H / 2 if kind == "end" else 14 if kind == "human" else 4
    ET.SubElement(
        group, "rect",
        {"x": _n(box.x), "y": _n(box.y), "width": _n(box.w), "height": _n(NODE_H), "rx": _n(radius),
         "fill": FILLS[kind], "stroke": CURRENT if current else TAKEN if visited else INK,
         "stroke-width": "4" if current else "2.5" if visited else "3" if start else "1.2"},
    )  # fmt: skip
    name = ET.SubElement(
        group, "text",
        {"x": _n(box.cx), "y": _n(box.y + 20), "font-size": "13", "font-weight": "600",
         "text-anchor": "middle", "fill": INK},
    )  # fmt: skip
    name.text = _short(node_id, int(box.w / 8))
    caption = f"{kind} · here" if current else kind
    sub = ET.SubElement(
        group, "text",
        {"x": _n(box.cx), "y": _n(box.y + 36), "font-size": "11", "text-anchor": "middle",
         "fill": CURRENT if current else MUTED},
    )  # fmt: skip
    sub.text = caption


def _description(workflow: Workflow, marks: Marks) -> str:
    parts = [f"{len(workflow.nodes)} nodes, starting at {workflow.start}."]
    if marks.visited:
        parts.append(f"Passed: {', '.join(sorted(marks.visited))}.")
    if marks.current:
        parts.append(f"The run is at {', '.join(sorted(marks.current))}.")
    return " ".join(parts)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(1, limit - 1)] + "…"


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _clean(element: ET.Element) -> ET.Element:
    """Drop the control characters XML cannot hold from text people typed."""
    for node in element.iter():
        if node.text:
            node.text = node.text.translate(_XML_INVALID)
        for key, value in node.attrib.items():
            node.attrib[key] = value.translate(_XML_INVALID)
    return element
