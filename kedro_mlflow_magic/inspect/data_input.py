"""Guessing the data input of a pipeline from what the project says: an input that another
registered pipeline produces is an artifact; a persisted free input that loads a frame is a
candidate (kedro-mlflow users persist their data input); a kedro-mlflow ``PipelineML`` names its
own."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kedro.io import DataCatalog
from kedro.pipeline import Pipeline

from kedro_mlflow_magic.quiet import load_quietly

if TYPE_CHECKING:
    from kedro_mlflow_magic.inspect.roles import Artifact

FRAME_DATASET_PREFIXES = ("pandas.", "spark.", "polars.")
PICKLE_DATASET = "PickleDataset"


def produced_elsewhere(pipeline: Pipeline, pipelines: Mapping[str, Pipeline]) -> set[str]:
    """Datasets that another registered pipeline produces (a training pipeline's model...)."""
    produced: set[str] = set()
    for other in pipelines.values():
        if other is not pipeline:
            produced |= set(other.all_outputs())
    return produced - set(pipeline.all_outputs())


def loads_a_frame(catalog: DataCatalog, artifact: Artifact) -> bool:
    """Whether a persisted input loads a table: a pandas, Spark or Polars dataset, or a pickle
    whose value is a pandas DataFrame."""
    dataset_type = artifact.dataset_type.removeprefix("kedro_datasets.")
    if dataset_type.startswith(FRAME_DATASET_PREFIXES):
        return True
    if dataset_type.rsplit(".", 1)[-1] == PICKLE_DATASET:
        import pandas as pd

        try:
            return isinstance(load_quietly(catalog, artifact.name), pd.DataFrame)
        except Exception:
            return False
    return False


def persisted_candidates(
    pipeline: Pipeline,
    catalog: DataCatalog,
    artifacts: Mapping[str, Artifact],
    pipelines: Mapping[str, Pipeline],
) -> list[str]:
    """When every free input is persisted: those that load a frame and that no other pipeline
    produces are the data input's candidates."""
    produced = produced_elsewhere(pipeline, pipelines)
    return [
        name
        for name, artifact in artifacts.items()
        if not artifact.frozen and name not in produced and loads_a_frame(catalog, artifact)
    ]


@dataclass(frozen=True)
class PipelineML:
    """What a kedro-mlflow ``PipelineML`` (``pipeline_ml_factory(training, inference,
    input_name)``) brings: its inference pipeline and the name of its data input. Read by duck
    typing, so kedro-mlflow need not be installed (nor imported)."""

    inference: Pipeline
    input_name: str

    @classmethod
    def of(cls, pipeline: Any) -> PipelineML | None:
        inference = getattr(pipeline, "inference", None)
        input_name = getattr(pipeline, "input_name", None)
        if isinstance(inference, Pipeline) and isinstance(input_name, str):
            return cls(inference, input_name)
        return None

    def note(self, data_input: str | None) -> str:
        used = (
            f"its input_name '{self.input_name}' as the data input"
            if data_input in (None, self.input_name)
            else f"'{data_input}' as the data input (its input_name is '{self.input_name}')"
        )
        return f"a kedro-mlflow PipelineML: using its inference pipeline, with {used}"


def model_pipeline(
    pipeline: Pipeline, data_input: str | None
) -> tuple[Pipeline, str | None, str | None]:
    """The pipeline a model runs, its data input and a note: a kedro-mlflow ``PipelineML``
    (training + inference) gives its inference pipeline and its ``input_name``; any other
    pipeline is itself."""
    pipeline_ml = PipelineML.of(pipeline)
    if pipeline_ml is None:
        return pipeline, data_input, None
    note = pipeline_ml.note(data_input)
    return pipeline_ml.inference, data_input or pipeline_ml.input_name, note
