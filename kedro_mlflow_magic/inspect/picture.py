"""The picture of a pipeline (namespaces as boxes, so that large pipelines stay readable:
docs/explanation/behaviour.md#scale): which shapes are drawn and how they connect, from the
pipeline and the role of each free input; ``display`` writes it as Mermaid text.

As kedro-viz shows modular pipelines, each namespace is one box (its name and node count) until
it is opened (``expand``); nested namespaces close at the outermost level first, and opening
``a.b`` opens ``a`` too. A dataset that only passes between the nodes of one closed box is not
drawn; free inputs always are, coloured by role. Whatever the size, the picture stays within
Mermaid's default limits (``MAX_CHARS`` characters of text, ``MAX_EDGES`` edges): above them it
is drawn coarser, step by step, and says so in its ``note``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kedro_mlflow_magic.errors import UnknownNamespaceError

if TYPE_CHECKING:
    from kedro.pipeline import Pipeline

# Mermaid refuses a diagram over 50,000 characters or 500 edges by default (``maxTextSize``,
# ``maxEdges``); the margin leaves room for the lines a renderer adds.
MAX_CHARS = 45_000
MAX_EDGES = 450
# the roles whose free inputs are folded into one shape each, when a picture is too large
FOLDED_ROLES = ("artifact", "parameter", "problem")


@dataclass(frozen=True)
class Shape:
    """One shape: a node, a namespace box, a dataset, or several free inputs of one role
    folded into one (``kind``); ``role`` colours it (a free input's role, ``output``,
    ``problem``), None leaves it plain."""

    identifier: str
    label: str
    kind: str
    role: str | None = None


@dataclass(frozen=True)
class Picture:
    """What is drawn: shapes, edges (identifier pairs), the pipeline's namespaces (each with
    its node count), those opened, and a note when the picture was drawn coarser than asked."""

    shapes: tuple[Shape, ...]
    edges: tuple[tuple[str, str], ...]
    namespaces: Mapping[str, int] = field(default_factory=dict)
    expanded: tuple[str, ...] = ()
    note: str | None = None


def namespace_sizes(pipeline: Pipeline) -> dict[str, int]:
    """Every namespace of the pipeline (nested ones by their dotted names, each prefix too)
    and how many nodes it holds, in the order they first appear."""
    sizes: dict[str, int] = {}
    for node in pipeline.nodes:
        parts = (node.namespace or "").split(".") if node.namespace else []
        for depth in range(1, len(parts) + 1):
            prefix = ".".join(parts[:depth])
            sizes[prefix] = sizes.get(prefix, 0) + 1
    return sizes


def checked_expansion(pipeline: Pipeline, expand: Iterable[str]) -> tuple[str, ...]:
    """The namespaces to open, checked against the pipeline's (an unknown one is an error
    listing the known ones), each with its enclosing namespaces."""
    known = namespace_sizes(pipeline)
    opened: dict[str, None] = {}
    for name in expand:
        if name not in known:
            raise UnknownNamespaceError(name, known)
        parts = name.split(".")
        opened.update(dict.fromkeys(".".join(parts[:depth]) for depth in range(1, len(parts) + 1)))
    return tuple(opened)


def closed_box(namespace: str | None, expanded: Collection[str]) -> str | None:
    """The outermost namespace of ``namespace`` that is not open: the box a node is drawn in
    (None: the node is drawn itself)."""
    if not namespace:
        return None
    parts = namespace.split(".")
    for depth in range(1, len(parts) + 1):
        prefix = ".".join(parts[:depth])
        if prefix not in expanded:
            return prefix
    return None


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


@dataclass
class Drawing:
    """A picture being assembled: shapes by identifier (first one wins) and edges, in order."""

    shapes: dict[str, Shape] = field(default_factory=dict)
    edges: dict[tuple[str, str], None] = field(default_factory=dict)

    def add(self, shape: Shape) -> str:
        self.shapes.setdefault(shape.identifier, shape)
        return shape.identifier

    def connect(self, source: str, target: str) -> None:
        self.edges[(source, target)] = None


# Where a node is drawn: (box key, box label), or None for the node itself.
BoxOf = Callable[[str | None], "tuple[str, str] | None"]


def draw(
    pipeline: Pipeline,
    roles: Mapping[str, str],
    outputs: Collection[str],
    box_of: BoxOf,
    fold: bool,
) -> Drawing:
    """The shapes and edges at one level of detail: ``box_of`` says which box (if any) holds
    a node, from its namespace; ``fold`` draws the free inputs of each role (but the data
    input) as one shape."""
    drawing = Drawing()
    box_ids: dict[str, str] = {}
    groups: list[str] = []
    for index, node in enumerate(pipeline.nodes):
        box = box_of(node.namespace)
        problem = "problem" if roles.get(f"node {node.name}") == "problem" else None
        if box is None:
            groups.append(drawing.add(Shape(f"node_{index}", node.name, "node", problem)))
            continue
        key, label = box
        identifier = box_ids.setdefault(key, f"box_{len(box_ids)}")
        drawing.add(Shape(identifier, label, "namespace"))
        if problem:  # a box holding a node with a problem shows it
            drawing.shapes[identifier] = Shape(identifier, label, "namespace", problem)
        groups.append(identifier)
    readers: dict[str, list[str]] = {}
    writers: dict[str, list[str]] = {}
    for node, group in zip(pipeline.nodes, groups, strict=True):
        for name in node.inputs:
            readers.setdefault(name, []).append(group)
        for name in node.outputs:
            writers.setdefault(name, []).append(group)
    role_counts: dict[str, int] = {}
    for name in set(readers) | set(writers):
        if name in roles:
            role_counts[roles[name]] = role_counts.get(roles[name], 0) + 1
    boxes = set(box_ids.values())
    dataset_ids: dict[str, str] = {}
    for name in sorted(set(readers) | set(writers), key=first_use(pipeline)):
        touching = set(readers.get(name, ())) | set(writers.get(name, ()))
        role = roles.get(name)
        if role is None and name not in outputs and len(touching) == 1 and touching <= boxes:
            continue  # passes between the nodes of one closed box
        if fold and role in FOLDED_ROLES and role_counts[role] > 1:
            shape = Shape(f"folded_{role}", plural(role_counts[role], role), "folded", role)
        else:
            identifier = dataset_ids.setdefault(name, f"data_{len(dataset_ids)}")
            shape = Shape(
                identifier, name, "dataset", role or ("output" if name in outputs else None)
            )
        identifier = drawing.add(shape)
        for group in writers.get(name, ()):
            drawing.connect(group, identifier)
        for group in readers.get(name, ()):
            drawing.connect(identifier, group)
    return drawing


def first_use(pipeline: Pipeline) -> Callable[[str], int]:
    """Datasets in the order the pipeline's nodes first use them (stable pictures)."""
    order: dict[str, int] = {}
    for node in pipeline.nodes:
        for name in [*node.inputs, *node.outputs]:
            order.setdefault(name, len(order))
    return lambda name: order.get(name, len(order))


def pipeline_picture(
    pipeline: Pipeline,
    roles: Mapping[str, str],
    outputs: Collection[str],
    expand: Iterable[str] = (),
    *,
    measure: Callable[[Picture], int] = lambda picture: 0,
    max_chars: int = MAX_CHARS,
    max_edges: int = MAX_EDGES,
) -> Picture:
    """The picture of ``pipeline``: ``roles`` (free input -> role, ``node <name>`` -> problem),
    its terminal ``outputs``; the namespaces in ``expand`` opened. ``measure`` gives the size
    of a picture's text (the caller's renderer); a picture over ``max_chars`` or ``max_edges``
    is drawn coarser (the namespaces named last closed first, then all, then the free inputs
    folded by role, then the whole pipeline as one box) until it fits, and says so."""
    sizes = namespace_sizes(pipeline)
    expanded = checked_expansion(pipeline, expand)
    nodes = len(pipeline.nodes)

    def boxes(opened: Collection[str]) -> BoxOf:
        def box_of(namespace: str | None) -> tuple[str, str] | None:
            box = closed_box(namespace, opened)
            return None if box is None else (box, f"{box} ({plural(sizes[box], 'node')})")

        return box_of

    def one_box(namespace: str | None) -> tuple[str, str]:
        return "", f"pipeline ({plural(nodes, 'node')})"

    # (where nodes are drawn, fold the free inputs, the namespaces open, what was made coarser)
    levels: list[tuple[BoxOf, bool, tuple[str, ...], str | None]] = [
        (boxes(expanded), False, expanded, None)
    ]
    for kept in range(len(expanded) - 1, 0, -1):  # the namespaces named last close first
        opened, closed = expanded[:kept], expanded[kept:]
        levels.append(
            (boxes(opened), False, opened, f"the namespaces {', '.join(closed)} stay closed")
        )
    if expanded:
        levels.append((boxes(()), False, (), "the namespaces asked for stay closed"))
    levels += [
        (
            boxes(()),
            True,
            (),
            "the namespaces are closed and the free inputs of each role are folded into one "
            "shape (the table lists them)",
        ),
        (one_box, True, (), "the whole pipeline is one box (the table lists its inputs)"),
    ]
    picture = Picture((), ())
    for box_of, fold, opened, coarser in levels:
        drawing = draw(pipeline, roles, outputs, box_of, fold)
        note = None
        if coarser is not None:
            note = (
                f"drawn coarser to stay within Mermaid's limits ({max_edges} edges, "
                f"{max_chars:,} characters): {coarser}"
            )
        picture = Picture(tuple(drawing.shapes.values()), tuple(drawing.edges), sizes, opened, note)
        if len(picture.edges) <= max_edges and measure(picture) <= max_chars:
            return picture
    return picture
    return picture
