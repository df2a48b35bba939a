"""What the project's code prints while one of our calls runs it, held back and counted by node
(docs/guides/notebook.md#quiet-cells): its prints and progress bars (``sys.stdout`` and
``sys.stderr``), its logging (every handler's records), and what anything writes to the file
descriptors 1 and 2 (TensorFlow's C++ messages, a library's own progress bars).

A write is the project's when a node runs (``running_node``); what is written outside the
nodes passes through (our own displays, a terminal IPython's), except on the file descriptors,
which no one can attribute by code: there everything is held, under the node running at the
time or ``OUTSIDE_NODES``. A call that runs nothing but the project's code (loading a project)
holds everything (``everything=True``). ``shown()`` lets everything through as it comes
(``--verbose``).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import Any, TextIO

from kedro_mlflow_magic import running_node

# what printed outside any node: the project's modules as they were imported, a dataset loading
OUTSIDE_NODES = ""
# what no node is named for: written straight to a file descriptor while no runner said which
# node ran (a C library's message, a model's node under check), or outside any node
OUTSIDE_PHRASE = "{lines} written outside a node we can name"
# how a note about held output tells where to see it
SEE_THEM = "--verbose shows them as they come; the result's .printed holds them"
STANDARD_FDS = (1, 2)


def shown_lines(text: str) -> list[str]:
    """The lines a terminal would end up showing: carriage returns applied (a progress bar
    redrawn in place is one line), blank lines left out."""
    lines = []
    for line in text.split("\n"):
        segments = [segment for segment in line.split("\r") if segment.strip()]
        if segments:
            lines.append(segments[-1].rstrip())
    return lines


def count(lines: int) -> str:
    return f"{lines} line{'s' if lines != 1 else ''}"


class HeldOutput:
    """What was held back during one call: the text by node (``OUTSIDE_NODES``: outside the
    nodes). ``str()`` shows it all, each node under a heading; ``lines()`` counts it."""

    def __init__(self) -> None:
        self.texts: dict[str, list[str]] = {}

    def hold(self, source: str, text: str) -> None:
        if text:
            self.texts.setdefault(source, []).append(text)

    def text(self, node: str = OUTSIDE_NODES) -> str:
        """The lines ``node`` printed (what printed outside the nodes by default)."""
        return "\n".join(shown_lines("".join(self.texts.get(node, []))))

    def lines(self) -> dict[str, int]:
        """How many lines each node printed (``OUTSIDE_NODES``: outside the nodes)."""
        counted = {source: len(shown_lines("".join(texts))) for source, texts in self.texts.items()}
        return {source: lines for source, lines in counted.items() if lines}

    def __bool__(self) -> bool:
        return bool(self.lines())

    def described(self, outside: str = OUTSIDE_PHRASE) -> str:
        """Who printed how much, in a phrase: "node 'fit' printed 12 lines, node 'score' 1
        line"; ``outside`` says it of what no node is named for (``{lines}``: how many)."""
        counted = self.lines()
        parts = [
            f"node '{source}' printed {count(lines)}"
            for source, lines in counted.items()
            if source != OUTSIDE_NODES
        ]
        if OUTSIDE_NODES in counted:
            parts.append(outside.format(lines=count(counted[OUTSIDE_NODES])))
        return ", ".join(parts)

    def note(self, see: str = SEE_THEM) -> str:
        """The summary's line: who printed how much, held back, and how to see it."""
        return f"{self.described()}, held back ({see})"

    def __str__(self) -> str:
        blocks = []
        for source, lines in self.lines().items():
            heading = f"node '{source}'" if source != OUTSIDE_NODES else "outside the nodes"
            blocks.append(f"--- {heading}: {count(lines)} ---\n{self.text(source)}")
        return "\n".join(blocks) or "(nothing printed)"

    def __repr__(self) -> str:
        return f"<HeldOutput: {self.described() or 'nothing printed'}>"


class Holder:
    """The holding machinery of one call: its streams, its file descriptors, its handlers'
    filter; ``source()`` says under which name a write is held (None: let it through)."""

    def __init__(self, held: HeldOutput, everything: bool) -> None:
        self.held = held
        self.everything = everything
        self.captures: list[FdCapture] = []
        # once the call ended: a holding stream something kept (a logging handler made during
        # the call) writes where the stream it stood for writes
        self.ended = False

    def source(self) -> str | None:
        node = running_node.node_now()
        if node is not None:
            return node
        return OUTSIDE_NODES if self.everything else None

    def node_changed(self, ended: str | None, _starts: str | None = None) -> None:
        """At each node's start and end: what the descriptors received since belongs to the
        node that ended (to no node before a start)."""
        for capture in self.captures:
            self.held.hold(ended or OUTSIDE_NODES, capture.take())


def flush_c_streams() -> None:
    """Flush the C library's ``stdout``/``stderr`` buffers (a C extension's ``printf``), so that
    what it wrote lands where its descriptor points now."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).fflush(None)


class FdCapture:
    """A file descriptor (1 or 2) pointed at a temporary file for the duration; ``forward``
    writes to where it pointed before."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        flush_c_streams()
        self.saved = os.dup(fd)
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by restore)
        os.dup2(self.file.fileno(), fd)
        self.position = 0

    def take(self) -> str:
        """What was written since the last ``take`` (read without moving the shared offset)."""
        flush_c_streams()
        size = os.fstat(self.file.fileno()).st_size
        if size <= self.position:
            return ""
        data = os.pread(self.file.fileno(), size - self.position, self.position)
        self.position += len(data)
        return data.decode("utf-8", errors="replace")

    def forward(self, text: str, encoding: str | None) -> None:
        os.write(self.saved, text.encode(encoding or "utf-8", errors="replace"))

    def restore(self) -> None:
        flush_c_streams()
        os.dup2(self.saved, self.fd)
        os.close(self.saved)
        self.file.close()


class HoldingStream:
    """``sys.stdout`` or ``sys.stderr`` for the duration: a node's writes are held, others go
    where they went (to the saved descriptor when the stream wrote to a captured one)."""

    def __init__(self, original: TextIO, holder: Holder, capture: FdCapture | None) -> None:
        self.original = original
        self.holder = holder
        self.capture = capture

    def write(self, text: str) -> int:
        if self.holder.ended:
            return self.original.write(text)
        source = self.holder.source()
        if source is not None:
            self.holder.held.hold(source, text)
        elif self.capture is not None:
            self.original.flush()
            self.capture.forward(text, getattr(self.original, "encoding", None))
        else:
            self.original.write(text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        with contextlib.suppress(Exception):
            self.original.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.original, name)


class RecordFilter(logging.Filter):
    """Every handler's filter for the duration: a record logged while a node runs is held (once,
    whichever handlers it reaches), others pass."""

    def __init__(self, holder: Holder) -> None:
        super().__init__()
        self.holder = holder
        self.last: logging.LogRecord | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if record is self.last:
            return False
        source = self.holder.source()
        if source is None:
            return True
        self.last = record
        self.holder.held.hold(source, f"{record.levelname} {record.name}: {record.getMessage()}\n")
        return False


def all_handlers() -> list[logging.Handler]:
    """Every handler of the root logger and of every logger made so far."""
    loggers = [logging.getLogger()] + [
        logger
        for logger in list(logging.Logger.manager.loggerDict.values())
        if isinstance(logger, logging.Logger)
    ]
    return list(
        {id(handler): handler for logger in loggers for handler in logger.handlers}.values()
    )


def writes_to(stream: Any, fd: int) -> bool:
    try:
        return stream.fileno() == fd
    except Exception:
        return False


# the holder of the call under way (one at a time: a call inside it holds into the same)
active: Holder | None = None
# ``shown()``: nothing is held while it is entered
showing = 0


@contextlib.contextmanager
def held_back(everything: bool = False) -> Iterator[HeldOutput]:
    """Hold back what the project's code prints for the duration; yield the ``HeldOutput``,
    complete once the block ends. ``everything``: hold every write, not only the nodes'."""
    global active
    if showing or active is not None:
        yield active.held if active is not None else HeldOutput()
        return
    holder = Holder(HeldOutput(), everything)
    streams = {"stdout": sys.stdout, "stderr": sys.stderr}
    for stream in streams.values():
        with contextlib.suppress(Exception):
            stream.flush()
    captures = {}
    for fd in STANDARD_FDS:
        with contextlib.suppress(OSError, AttributeError):
            captures[fd] = FdCapture(fd) if hasattr(os, "pread") else None
    holder.captures = [capture for capture in captures.values() if capture is not None]
    sys.stdout = HoldingStream(streams["stdout"], holder, forwarded(streams["stdout"], captures))  # type: ignore[assignment]
    sys.stderr = HoldingStream(streams["stderr"], holder, forwarded(streams["stderr"], captures))  # type: ignore[assignment]
    record_filter = RecordFilter(holder)
    handlers = all_handlers()
    for handler in handlers:
        handler.addFilter(record_filter)
    streams_swapped = swap_handler_streams(handlers, holder, captures)
    running_node.listeners.append(holder.node_changed)
    active = holder
    try:
        yield holder.held
    finally:
        active, holder.ended = None, True
        running_node.listeners.remove(holder.node_changed)
        for handler in handlers:
            handler.removeFilter(record_filter)
        for handler, stream in streams_swapped:
            handler.setStream(stream)
        sys.stdout, sys.stderr = streams["stdout"], streams["stderr"]
        holder.node_changed(None)
        for capture in holder.captures:
            capture.restore()


def forwarded(stream: Any, captures: dict[int, FdCapture | None]) -> FdCapture | None:
    """The capture whose saved descriptor a stream's passed-through writes go to: the one of
    the descriptor the stream writes to (a terminal's ``sys.stdout``), else None (a kernel's
    stream, which sends its text elsewhere)."""
    return next(
        (
            capture
            for fd, capture in captures.items()
            if capture is not None and writes_to(stream, fd)
        ),
        None,
    )


def swap_handler_streams(
    handlers: list[logging.Handler], holder: Holder, captures: dict[int, FdCapture | None]
) -> list[tuple[logging.StreamHandler, Any]]:
    """Point each stream handler that writes to a captured descriptor (a terminal's
    ``sys.stderr``) at a holding stream, so that the records that pass go where they went;
    return the handlers with their streams, to put back."""
    swapped = []
    for handler in handlers:
        if not isinstance(handler, logging.StreamHandler) or isinstance(
            handler, logging.FileHandler
        ):
            continue
        for fd, capture in captures.items():
            if capture is not None and writes_to(handler.stream, fd):
                stream = handler.setStream(HoldingStream(handler.stream, holder, capture))  # type: ignore[arg-type]
                swapped.append((handler, stream))
                break
    return swapped


@contextlib.contextmanager
def shown() -> Iterator[None]:
    """Nothing is held back for the duration (``--verbose``): the project's output shows as
    it comes."""
    global showing
    showing += 1
    try:
        yield
    finally:
        showing -= 1
