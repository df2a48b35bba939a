"""``profile_model``: where the time of a model's call goes, node by node.

The model is loaded afresh and its node functions and conversions timed by wrappers that its
runtime puts in place at load time (``PipelineModel.instrument``); each call's whole time is
split into the nodes, the conversions between kinds of frames, the runtime's own code (the
rest of its call) and MLflow's (its input and parameter checks). See
docs/guides/profiling.md.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kedro_mlflow_magic.display import Summary
from kedro_mlflow_magic.display.profile import profile_html, profile_text
from kedro_mlflow_magic.errors import ProfileError, SampleError

NODE, CONVERSION, RUNTIME, MLFLOW = "node", "conversion", "runtime", "MLflow"
RUNTIME_ROW = "runtime's own code"
MLFLOW_ROW = "MLflow's input checks"


@dataclass(frozen=True)
class Profile(Summary):
    """Median times per call (seconds) over ``calls`` calls on the same input: ``nodes`` (node
    name -> time, in running order), ``conversions`` (what was converted -> time), the
    runtime's own code (``runtime``), MLflow's checks before the model (``mlflow``) and the
    whole call (``total``). Shown as a table sorted by time, each part's share of the whole."""

    model_uri: str
    calls: int
    input_size: str
    nodes: dict[str, float]
    conversions: dict[str, float] = field(default_factory=dict)
    runtime: float = 0.0
    mlflow: float = 0.0
    total: float = 0.0

    def rows(self) -> list[tuple[str, str, float, float]]:
        """(part, kind, seconds, share) for each part, slowest first; a share is of the sum
        of the parts' medians (the median of the whole call is another call's)."""
        parts = [
            *((name, NODE, seconds) for name, seconds in self.nodes.items()),
            *((name, CONVERSION, seconds) for name, seconds in self.conversions.items()),
            (RUNTIME_ROW, RUNTIME, self.runtime),
            (MLFLOW_ROW, MLFLOW, self.mlflow),
        ]
        parts.sort(key=lambda part: part[2], reverse=True)
        whole = sum(seconds for _, _, seconds in parts) or 1.0
        return [(name, kind, seconds, seconds / whole) for name, kind, seconds in parts]

    def summary_text(self) -> str:
        return profile_text(self)

    def summary_html(self) -> str:
        return profile_html(self)


class Timers:
    """The wrappers timing each part of a call, and what they measured in the current one."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self.kinds: dict[str, str] = {}
        self.run_seconds = 0.0

    def wrap(self, part: Any, function: Callable[..., Any]) -> Callable[..., Any]:
        name, spent = part.name, self.spent
        self.kinds[name] = NODE if part.node else CONVERSION
        clock = time.perf_counter

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = clock()
            try:
                return function(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + clock() - started

        return timed

    def wrap_call(self, call: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def timed(model_input: Any, params: Any) -> Any:
            started = time.perf_counter()
            try:
                return call(model_input, params)
            finally:
                self.run_seconds = time.perf_counter() - started

        return timed


def input_size(data: Any) -> str:
    shape = getattr(data, "shape", None)
    if isinstance(shape, tuple) and shape:
        return f"{shape[0]:,} rows" if len(shape) == 2 else f"an array of shape {shape}"
    return type(data).__name__


def profile_model(
    model_uri: str, data: Any, repeat: int = 10, params: dict[str, Any] | None = None
) -> Profile:
    """Load the model at ``model_uri`` afresh, predict ``data`` (with ``params``) once to warm
    up and ``repeat`` times timed, and return each part's median time per call."""
    from kedro_mlflow_magic.tracking.prediction import ModelCache, predict

    if repeat < 1:
        raise SampleError(f"repeat must be at least 1, not {repeat}")
    model = ModelCache().load(model_uri)  # a load of its own: the cached model stays as it is
    try:
        runtime = model.unwrap_python_model()
    except Exception:
        runtime = None
    if not callable(getattr(runtime, "instrument", None)):
        raise ProfileError(model_uri)
    timers = Timers()
    runtime.instrument(timers.wrap, timers.wrap_call)
    predict(model, data, params, model_uri)  # warm-up: lazy imports, first-call caches
    samples: list[tuple[dict[str, float], float, float]] = []
    for _ in range(repeat):
        timers.spent.clear()
        started = time.perf_counter()
        predict(model, data, params, model_uri)
        total = time.perf_counter() - started
        samples.append((dict(timers.spent), timers.run_seconds, total))

    def median_of(name: str) -> float:
        return statistics.median(spent.get(name, 0.0) for spent, _, _ in samples)

    return Profile(
        model_uri=model_uri,
        calls=repeat,
        input_size=input_size(data),
        nodes={name: median_of(name) for name, kind in timers.kinds.items() if kind == NODE},
        conversions={  # those that ran: a caller's frame of the model's kind converts nothing
            name: median_of(name)
            for name, kind in timers.kinds.items()
            if kind == CONVERSION and any(name in spent for spent, _, _ in samples)
        },
        runtime=statistics.median(run - sum(spent.values()) for spent, run, _ in samples),
        mlflow=statistics.median(total - run for _, run, total in samples),
        total=statistics.median(total for _, _, total in samples),
    )
