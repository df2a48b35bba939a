"""Models logged with ``trace=True`` record an MLflow trace of each predict, one span per node
named after it with the shapes (never the values) of its inputs and output, also when served
by ``mlflow models serve``; a model logged without it records none."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from servers import clean_environment, model_server, running_server

TRACE_DEADLINE = 120  # s: the server exports its traces in the background


def node_names(demo: Any) -> set[str]:
    return {node.name for node in demo.pipelines["inference"].nodes}


def log_demo(demo: Any, frame: Any, **options: Any) -> str:
    from kedro_mlflow_magic import log_pipeline_model

    pipeline = demo.pipelines["inference"]
    return log_pipeline_model(
        pipeline, demo.catalog, "customers_to_score", frame, **options
    ).model_uri


def traces_of(experiment: str) -> list[Any]:
    """The traces recorded in ``experiment``, after this process exported what it holds (the
    supported MLflow versions all have ``flush_trace_async_logging`` and ``locations=``)."""
    import mlflow

    mlflow.flush_trace_async_logging()
    return mlflow.search_traces(locations=[experiment], return_type="list")


def spans_by_name(trace: Any) -> dict[str, Any]:
    return {span.name: span for span in trace.data.spans}


def assert_shapes_only(shown: dict[str, Any]) -> None:
    """What a span shows of a value: its type and shape, length or columns, nothing else."""
    for described in shown.values():
        assert set(described) <= {"type", "shape", "length", "columns"}, described


@pytest.fixture
def experiment() -> Iterator[str]:
    """A fresh experiment of the shared store, for the traces of one test alone."""
    import uuid

    import mlflow

    yield mlflow.create_experiment(f"traces-{uuid.uuid4().hex[:8]}")


def test_a_traced_model_records_a_span_per_node_with_shapes(demo, demo_sample, experiment) -> None:
    import mlflow

    model = mlflow.pyfunc.load_model(log_demo(demo, demo_sample, trace=True))
    mlflow.set_experiment(experiment_id=experiment)
    model.predict(demo_sample)
    [trace] = traces_of(experiment)
    spans = spans_by_name(trace)
    assert node_names(demo) <= set(spans)
    root = spans["predict"]
    assert root.parent_id is None
    assert root.inputs["model_input"] == {"type": "pandas.DataFrame", "shape": [40, 5]}
    for name in node_names(demo):
        span = spans[name]
        assert span.parent_id == root.span_id
        assert span.end_time_ns > span.start_time_ns
        assert_shapes_only(span.inputs)
        assert set(span.outputs) <= {"type", "shape", "length", "columns"}
    encode = spans["encode_features"]
    assert encode.inputs["customers_to_score"]["shape"] == [40, 5]
    assert encode.outputs["type"] == "numpy.ndarray"


def test_a_model_logged_without_trace_records_no_span(demo, demo_sample, experiment) -> None:
    import mlflow

    model = mlflow.pyfunc.load_model(log_demo(demo, demo_sample))
    mlflow.set_experiment(experiment_id=experiment)
    model.predict(demo_sample)
    assert model.unwrap_python_model().traced is False
    assert traces_of(experiment) == []


def served_traces(
    model_uri: str, tracking_uri: str, experiment: str, frame: Any, folder: Path
) -> None:
    """Serve the model with its traces going to ``experiment`` of the store, and send it one
    request."""
    environment = clean_environment(tracking_uri) | {"MLFLOW_EXPERIMENT_ID": experiment}
    with running_server(
        model_server(model_uri), "/ping", folder / "server.log", cwd=folder, env=environment
    ) as server:
        response = requests.post(
            f"{server.url}/invocations",
            json={"dataframe_split": frame.to_dict(orient="split")},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        return wait_for_traces(experiment)


def wait_for_traces(experiment: str) -> list[Any]:
    deadline = time.monotonic() + TRACE_DEADLINE
    while time.monotonic() < deadline:
        traces = traces_of(experiment)
        if traces:
            return traces
        time.sleep(0.5)
    return []


@pytest.mark.slow
def test_a_served_traced_model_records_spans_per_node_and_an_untraced_one_none(
    demo, demo_sample, mlflow_store, tmp_path
) -> None:
    import mlflow

    frame = demo_sample.head(3)
    untraced, traced = (mlflow.create_experiment(f"served-{kind}") for kind in ("no", "yes"))
    untraced_uri = log_demo(demo, demo_sample)
    traced_uri = log_demo(demo, demo_sample, trace=True)
    # the untraced server first: by the time the traced one's trace has arrived, any trace
    # the untraced one had sent would have too
    (tmp_path / "untraced").mkdir()
    (tmp_path / "traced").mkdir()
    with running_server(
        model_server(untraced_uri), "/ping", tmp_path / "untraced" / "server.log",
        cwd=tmp_path / "untraced",
        env=clean_environment(mlflow_store) | {"MLFLOW_EXPERIMENT_ID": untraced},
    ) as server:  # fmt: skip
        response = requests.post(
            f"{server.url}/invocations",
            json={"dataframe_split": frame.to_dict(orient="split")},
            timeout=60,
        )
        assert response.status_code == 200, response.text
    traces = served_traces(traced_uri, mlflow_store, traced, frame, tmp_path / "traced")
    assert len(traces) == 1, traces
    spans = spans_by_name(traces[0])
    assert node_names(demo) <= set(spans)
    assert spans["encode_features"].inputs["customers_to_score"]["shape"] == [3, 5]
    assert traces_of(untraced) == []


def test_the_magic_and_the_hook_pass_trace_on(demo, demo_sample, project_notebook) -> None:
    import mlflow

    from kedro_mlflow_magic.hooks import LogModelHook

    shell = project_notebook(demo, sample=demo_sample)
    info = shell.run_line_magic(
        "kedro_log_model", "inference --input customers_to_score --sample sample --trace"
    )
    assert mlflow.pyfunc.load_model(info.model_uri).unwrap_python_model().traced is True
    hook = LogModelHook(after="training", pipeline="inference", trace=True)
    assert hook.log_options().trace is True
    assert LogModelHook(after="training", pipeline="inference").log_options().trace is False
