"""Parity as a property (docs/explanation/behaviour.md#predicting): for random small pipelines
(chains and diamonds of project node functions), random parameters and random frames, the logged
model gives what Kedro's SequentialRunner gives, with the defaults and with per-call overrides."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kedro.pipeline import Pipeline, node, pipeline
from model_files import assert_model_is_clean
from projects import write_project
from sessions import LoadedProject, kedro_output, load_project

from kedro_mlflow_magic import log_pipeline_model

NODES = """
import pandas as pd


def shift(frame: pd.DataFrame, amount: float) -> pd.DataFrame:
    return frame + amount


def scale(frame: pd.DataFrame, factor: float) -> pd.DataFrame:
    return frame * factor


def clip_above(frame: pd.DataFrame, limit: float) -> pd.DataFrame:
    return frame.clip(upper=limit)


def add_offsets(frame: pd.DataFrame, offsets: dict) -> pd.DataFrame:
    return frame.assign(**{column: frame[column] + offsets[column] for column in frame.columns})


def combine(left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    return left + right


def mix(left: pd.DataFrame, right: pd.DataFrame, weights: dict) -> pd.DataFrame:
    return left * weights["left"] + right * weights["right"]
"""

CATALOG = """
offsets:
  type: pickle.PickleDataset
  filepath: data/06_models/offsets.pkl
"""

OFFSETS = {"a": 0.25, "b": -1.5}
SECRET = "property-secret-77aa"
PACKAGE = "property_nodes"
DATA_INPUT = "rows"
UNARY_WITH_PARAMETER = ("shift", "scale", "clip_above")

numbers = st.floats(min_value=-10, max_value=10, allow_nan=False).map(lambda x: round(x, 3))


@pytest.fixture(scope="module")
def property_project(tmp_path_factory: pytest.TempPathFactory) -> LoadedProject:
    root = write_project(
        tmp_path_factory.mktemp("property") / "project", NODES, "return {}", catalog=CATALOG,
        credentials=f"service:\n  key: {SECRET}\n", package=PACKAGE,
        pickles={"data/06_models/offsets.pkl": OFFSETS},
    )  # fmt: skip
    return load_project(root)


@dataclass
class RandomPipeline:
    """A drawn pipeline: its nodes, parameter defaults, overrides for one call, and output."""

    pipeline: Pipeline
    output: str
    defaults: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)

    def parameters_with_overrides(self) -> dict[str, Any]:
        """Each parameter input's value once the overrides (dotted leaves) are applied."""
        values = {name: (dict(value) if isinstance(value, dict) else value)
                  for name, value in self.defaults.items()}  # fmt: skip
        for key, value in self.overrides.items():
            top, _, leaf = key.partition(".")
            if leaf:
                values[f"params:{top}"][leaf] = value
            else:
                values[f"params:{top}"] = value
        return values


@st.composite
def random_pipelines(draw: st.DrawFn) -> RandomPipeline:
    """A chain or diamond of 1 to 5 nodes over ``rows``; each node reads earlier datasets."""
    from importlib import import_module

    nodes = import_module(f"{PACKAGE}.nodes")
    datasets, steps = [DATA_INPUT], []
    drawn = RandomPipeline(pipeline([]), "")
    for index in range(draw(st.integers(1, 5))):
        kinds = [*UNARY_WITH_PARAMETER, "add_offsets"]
        if len(datasets) > 1:
            kinds += ["combine", "mix"]
        kind = draw(st.sampled_from(kinds))
        output = f"step_{index}"
        if kind in ("combine", "mix"):
            left, right = draw(st.lists(st.sampled_from(datasets), min_size=2, max_size=2,
                                        unique=True))  # fmt: skip
            inputs = [left, right]
            if kind == "mix":
                weights = {"left": draw(numbers), "right": draw(numbers)}
                drawn.defaults[f"params:w{index}"] = weights
                inputs.append(f"params:w{index}")
                if draw(st.booleans()):
                    drawn.overrides[f"w{index}.{draw(st.sampled_from(list(weights)))}"] = draw(
                        numbers
                    )
        elif kind == "add_offsets":
            inputs = [draw(st.sampled_from(datasets)), "offsets"]
        else:
            inputs = [draw(st.sampled_from(datasets)), f"params:p{index}"]
            drawn.defaults[f"params:p{index}"] = draw(numbers)
            if draw(st.booleans()):
                drawn.overrides[f"p{index}"] = draw(numbers)
        steps.append(node(getattr(nodes, kind), inputs, output, name=f"{kind}_{index}"))
        datasets.append(output)
    drawn.pipeline = pipeline(steps)
    drawn.output = datasets[-1]
    return drawn


frames = st.lists(st.tuples(numbers, numbers), min_size=1, max_size=8).map(
    lambda rows: pd.DataFrame(rows, columns=["a", "b"], dtype="float64")
)


def runner_result(project: LoadedProject, drawn: RandomPipeline, frame: pd.DataFrame) -> Any:
    """What Kedro's SequentialRunner gives on ``frame``, with the parameters of this call."""
    return kedro_output(
        project, drawn.pipeline, DATA_INPUT, frame,
        output=drawn.output, values=drawn.parameters_with_overrides(),
    )  # fmt: skip


@pytest.mark.slow
@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drawn=random_pipelines(), sample=frames, frame=frames)
def test_a_logged_random_pipeline_agrees_with_the_sequential_runner(
    property_project: LoadedProject, drawn: RandomPipeline, sample, frame
) -> None:
    import mlflow

    catalog = property_project.session.load_context().catalog
    for name, value in drawn.defaults.items():
        catalog[name] = value
    info = log_pipeline_model(drawn.pipeline, catalog, DATA_INPUT, sample, output=drawn.output)
    assert_model_is_clean(info.model_uri, secrets=[SECRET], allowed_pickles={"offsets.pkl"})
    model = mlflow.pyfunc.load_model(info.model_uri)

    predicted = model.predict(frame, params=drawn.overrides or None)
    pd.testing.assert_frame_equal(predicted, runner_result(property_project, drawn, frame))
    defaults_only = RandomPipeline(drawn.pipeline, drawn.output, drawn.defaults)
    pd.testing.assert_frame_equal(
        model.predict(frame), runner_result(property_project, defaults_only, frame)
    )
