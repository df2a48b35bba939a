"""Kinds of data at log time: the kind each dataset of a pipeline loads as, from its catalog
type, and the kind the nodes get the data input in
(docs/explanation/behaviour.md#data-as-kedro-gives-it).

``spark.*`` datasets (SparkDataset, SparkDatasetV2, Hive, Delta) load Spark DataFrames,
``pandas.*`` pandas, ``polars.*`` polars (lazy for ``LazyPolarsDataset``); any other type, and a
MemoryDataset, gives the value as it was produced. Transcoded entries (``x@spark``,
``x@pandas``) are datasets of their own, each with its kind. The runtime converts where a
value's kind differs from what its reader's dataset gives (``runtime/kinds.py``).
"""

from __future__ import annotations

from typing import Any

from kedro.io import DataCatalog
from kedro.io.core import is_parameter
from kedro.pipeline import Pipeline

from kedro_mlflow_magic.runtime.kinds import (
    FRAME_KINDS,
    PANDAS,
    POLARS,
    POLARS_LAZY,
    SPARK,
    kind_of,
)
from kedro_mlflow_magic.runtime.records import PARAMETER_KINDS, parameter_converter

FAMILIES = {"spark": SPARK, "pandas": PANDAS, "polars": POLARS}


def catalog_kind(dataset_type: str | None) -> str | None:
    """The kind a dataset type loads as (``kedro_datasets.spark.spark_dataset_v2.
    SparkDatasetV2`` or ``spark.SparkDatasetV2``: spark); None for any other type."""
    if not dataset_type:
        return None
    path = dataset_type.removeprefix("kedro_datasets.")
    family = FAMILIES.get(path.split(".", 1)[0])
    if family == POLARS and path.rsplit(".", 1)[-1].startswith("Lazy"):
        return POLARS_LAZY
    return family


def dataset_kind(catalog: DataCatalog, name: str) -> str | None:
    """The kind the catalog entry ``name`` loads as; None when it is not in the catalog."""
    if name not in catalog:
        return None
    return catalog_kind(catalog.get_type(name))


def dataset_kinds(pipeline: Pipeline, catalog: DataCatalog) -> dict[str, str]:
    """Each dataset name of the pipeline (as declared, transcoding included) whose catalog
    type gives a kind, with that kind."""
    kinds = {}
    for name in sorted(pipeline.datasets()):
        if is_parameter(name):
            continue
        kind = dataset_kind(catalog, name)
        if kind is not None:
            kinds[name] = kind
    return kinds


def data_input_kind(catalog: DataCatalog, data_input: str, sample: Any) -> str | None:
    """The kind the nodes get the data input in: its catalog entry's, else the sample's
    (pandas, numpy, spark, polars); None for a value of another type."""
    return dataset_kind(catalog, data_input) or kind_of(sample)


def converts(kinds: dict[str, str], data_kind: str | None, pipeline: Pipeline) -> bool:
    """Whether Kedro's catalog would convert between kinds in this pipeline: its intermediate
    datasets (transcoded names apart) and its data input are of more than one kind of frame
    (then the reference run goes through files, as ``kedro run`` does). A pandas pipeline
    never does, transcoded or not."""
    free = pipeline.inputs()
    seen = {kind for name, kind in kinds.items() if name not in free}
    if data_kind in FRAME_KINDS:
        seen.add(data_kind)
    return len(seen) > 1


def as_kind(frame: Any, kind: str | None) -> Any:
    """A pandas frame (the sample, or a caller's frame) in the kind the nodes get the data
    input in: into the active Spark session (else a local one), or into polars; for a
    parameter as the input, the value its one row stands for."""
    if kind in PARAMETER_KINDS:
        return parameter_converter(kind)(frame)
    if kind not in (SPARK, POLARS, POLARS_LAZY) or kind_of(frame) == kind:
        return frame
    from kedro_mlflow_magic.runtime.conversions import converter, spark_session

    return converter(kind, spark_session() if kind == SPARK else None)(frame)
