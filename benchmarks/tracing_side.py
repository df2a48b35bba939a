"""``bench_predict``'s tracing table: the small demo model logged without ``trace`` and with it,
predicting 1 and 1,000 rows in interleaved rounds against the direct node calls; the traced
one with MLflow tracing on (each call writes its trace, a span per node, to the store) and
with tracing disabled (``mlflow.tracing.disable()``). A model logged without ``trace`` wraps
nothing: its calls are the untraced column, the (a) column of the main table."""

from __future__ import annotations

from typing import Any

from timing import Timing, duration, signed, time_interleaved

ROWS = (1, 1_000)
BUDGET_SECONDS = 4


def log_traced(project: Any, sample: Any, data_input: str) -> str:
    from kedro_mlflow_magic import log_pipeline_model

    return log_pipeline_model(
        project.pipelines["small"], project.catalog, data_input, sample,
        name="ours_small_traced", project_path=project.root, trace=True,
    ).model_uri  # fmt: skip


def time_tracing(untraced: Any, traced: Any, direct: Any, frame: Any) -> dict[str, Timing]:
    import mlflow

    calls = {
        "direct": lambda: direct(frame),
        "untraced": lambda: untraced.predict(frame),
        "traced": lambda: traced.predict(frame),
    }
    timings = time_interleaved(calls, "direct", BUDGET_SECONDS)
    # tracing off: a second set of rounds (switching tracing per call would cost more than a
    # call); overheads are paired with the direct calls of their own rounds
    mlflow.tracing.disable()
    try:
        del calls["traced"]
        calls["traced, tracing off"] = lambda: traced.predict(frame)
        timings["traced, tracing off"] = time_interleaved(calls, "direct", BUDGET_SECONDS)[
            "traced, tracing off"
        ]
    finally:
        mlflow.tracing.enable()
    return timings


def print_tracing_table(project: Any, sample: Any, untraced_uri: str, data_input: str) -> None:
    """Log the traced model, time it beside the untraced one, print the table."""
    import mlflow
    from demo_setup import direct_call

    traced = mlflow.pyfunc.load_model(log_traced(project, sample, data_input))
    untraced = mlflow.pyfunc.load_model(untraced_uri)
    direct = direct_call(project, "classifier")
    columns = ("direct", "untraced", "traced, tracing off", "traced")
    print(
        "\nTracing, small model: the direct node calls' median per call, and each model's "
        "overhead over them (median of the paired differences of its rounds)"
    )
    print(f"{'rows':>8}" + "".join(f"{column:>22}" for column in columns))
    for count in ROWS:
        timings = time_tracing(untraced, traced, direct, project.customers(count))
        cells = [duration(timings["direct"].median)] + [
            signed(timings[column].overhead) for column in columns[1:]
        ]
        print(f"{count:>8,}" + "".join(f"{cell:>22}" for cell in cells))
    print(
        "untraced: logged without trace (no span, nothing wrapped); traced: logged with "
        "trace=True, each call writing its trace to the sqlite store; tracing off: the same "
        "model after mlflow.tracing.disable()."
    )
