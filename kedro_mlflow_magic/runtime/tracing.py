"""Watching a call: the parts of a call that can be wrapped (each node function, each
conversion, the whole call), and the wrappers that turn a call into an MLflow trace.

A model logged with ``trace=True`` records, on every predict, one trace with a span for the
call and one span per node (named after the node, with the shapes of its inputs and output,
never their values) wherever MLflow tracing is enabled. A model logged without it wraps
nothing: its calls are what they would be without this module. A profile wraps the same parts
with timers (the core's ``profile_model``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from .manifest import NodeInterface, interface_names

# one call of the model, as ``PipelineModel.run``: (model input, params) -> output
Call = Callable[[Any, Any], Any]


class Part(NamedTuple):
    """What a wrapper wraps: a node function (``node``: True; ``name`` is the node's name,
    ``inputs`` its inputs as declared) or a conversion between kinds of frames (``name``
    says what it converts: ``fares as spark``)."""

    name: str
    inputs: NodeInterface
    node: bool


# wraps the function of one part of a call: (part, function) -> the function called instead
Wrap = Callable[[Part, Callable[..., Any]], Callable[..., Any]]
# wraps a whole call
WrapCall = Callable[[Call], Call]

SPAN_OF_CALL = "predict"


def shape_of(value: Any) -> dict[str, Any]:
    """What a span shows of a value: its type, and its shape where it has one (rows and
    columns of a frame, the dimensions of an array, the length of a collection); never the
    value. A Spark frame shows its columns only: counting its rows would run a Spark job."""
    kind = type(value)
    package = kind.__module__.partition(".")[0]
    described: dict[str, Any] = {
        "type": kind.__name__ if package == "builtins" else f"{package}.{kind.__name__}"
    }
    if kind.__module__.startswith("pyspark"):
        columns = getattr(value, "columns", None)
        if columns is not None:
            described["columns"] = len(columns)
        return described
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple):
        described["shape"] = list(shape)
    elif isinstance(value, (list, tuple, dict, set, frozenset)):
        described["length"] = len(value)
    return described


def argument_names(inputs: NodeInterface) -> list[str]:
    """The dataset names of a node's positional arguments, in order."""
    return [] if isinstance(inputs, dict) else interface_names(inputs)


def inputs_shown(
    positional: list[str], keywords: Mapping[str, str], args: tuple, kwargs: dict
) -> dict[str, Any]:
    shown = {name: shape_of(value) for name, value in zip(positional, args, strict=False)}
    for argument, value in kwargs.items():
        shown[keywords.get(argument, argument)] = shape_of(value)
    return shown


def node_span(part: Part, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` recording a span named after its node (or conversion) while it runs."""
    import mlflow
    from mlflow.entities import SpanType

    name = part.name
    span_type = SpanType.TASK if part.node else SpanType.PARSER
    positional = argument_names(part.inputs)
    keywords = part.inputs if isinstance(part.inputs, dict) else {}

    def traced(*args: Any, **kwargs: Any) -> Any:
        with mlflow.start_span(name=name, span_type=span_type) as span:
            span.set_inputs(inputs_shown(positional, keywords, args, kwargs))
            result = function(*args, **kwargs)
            span.set_outputs(shape_of(result))
            return result

    return traced


def call_span(call: Call) -> Call:
    """The whole call recording a span (the trace's root where no span is open yet), with the
    shape of the model input, the names of the parameters given and the output's shape."""
    import mlflow
    from mlflow.entities import SpanType

    def traced(model_input: Any, params: Any) -> Any:
        with mlflow.start_span(name=SPAN_OF_CALL, span_type=SpanType.WORKFLOW) as span:
            span.set_inputs({"model_input": shape_of(model_input), "params": sorted(params or ())})
            result = call(model_input, params)
            span.set_outputs(shape_of(result))
            return result

    return traced
