"""Kinds of data (pandas, Spark, polars, numpy): what a node gets each input as, and where the
model converts (docs/explanation/behaviour.md#data-as-kedro-gives-it).

Kedro gives a node each input in the kind its catalog entry loads: a Spark DataFrame from a
``spark.*`` dataset, pandas from ``pandas.*``, polars from ``polars.*``; a MemoryDataset (or no
entry) gives the value as it was produced. The manifest records those kinds (``kinds``: each
dataset name as declared, transcoding included, and the kind of each value as its node
produced it on the sample); here, at load time, they become conversion steps placed right after
the node that produces a value, only where the kind a reader's dataset gives differs from the
value's. A pipeline whose kinds agree everywhere has no conversion step and no added cost.

Spark and polars are never imported here: a value's kind is read from its type's module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from .manifest import KindsEntry, NodeEntry, NodeInterface, dataset_key, interface_names

PANDAS = "pandas"
SPARK = "spark"
POLARS = "polars"
POLARS_LAZY = "polars-lazy"
NUMPY = "numpy"
# the kinds a catalog dataset can give (a numpy array is the value as produced)
FRAME_KINDS = (PANDAS, SPARK, POLARS, POLARS_LAZY)


def kind_of(value: Any) -> str | None:
    """The kind of a value: pandas, numpy, spark, polars or polars-lazy; None for any other
    (a Series, a dict, a model...). Spark and polars are recognised without importing them."""
    if isinstance(value, pd.DataFrame):
        return PANDAS
    if isinstance(value, np.ndarray):
        return NUMPY
    kind = type(value)
    top = kind.__module__.partition(".")[0]
    if top == "pyspark" and kind.__name__ == "DataFrame":
        return SPARK
    if top == "polars":
        if kind.__name__ == "DataFrame":
            return POLARS
        if kind.__name__ == "LazyFrame":
            return POLARS_LAZY
    return None


def needs_spark(kinds: KindsEntry | None) -> bool:
    """Whether a model's nodes get or make Spark DataFrames (it then needs a Spark session)."""
    if not kinds:
        return False
    return SPARK in (
        kinds.get("data_input"),
        *kinds["datasets"].values(),
        *kinds["values"].values(),
    )


class Conversion(NamedTuple):
    """One conversion made per call: the value of ``key`` converted to ``kind`` and kept under
    ``converted`` (the name the readers that need it read instead of ``key``)."""

    key: str
    kind: str
    converted: str


def converted_name(key: str, kind: str) -> str:
    """The name a converted value is kept under (no ``@``, so it is its own dataset key)."""
    return f"{key} as {kind}"


class ConversionPlan(NamedTuple):
    """The nodes with the inputs they read converted renamed, the conversions to make at the
    start of a call (the data input's, the artifacts') and after each node (by index), and the
    kind the output is returned in (None: as produced)."""

    nodes: list[NodeEntry]
    at_start: tuple[Conversion, ...]
    after: dict[int, tuple[Conversion, ...]]
    output_kind: str | None


def renamed(declared: NodeInterface, names: Mapping[str, str]) -> NodeInterface:
    """A node's declared inputs with some names replaced (the form kept)."""
    if declared is None:
        return None
    if isinstance(declared, str):
        return names.get(declared, declared)
    if isinstance(declared, dict):
        return {argument: names.get(name, name) for argument, name in declared.items()}
    return [names.get(name, name) for name in declared]


def plan_conversions(
    nodes: list[NodeEntry], kinds: KindsEntry | None, data_input: str, output: str
) -> ConversionPlan:
    """Where a call converts, decided once at load time: a reader of the dataset name ``N``
    gets the kind ``N``'s catalog entry gives (else the kind of the dataset its producer saved
    it into, as a MemoryDataset hands on what was saved); where that differs from the kind of
    the value as produced, the value is converted once, right after its producer (or at the
    start), and every such reader reads the converted value."""
    if not kinds:
        return ConversionPlan(list(nodes), (), {}, None)
    datasets, values = kinds["datasets"], dict(kinds["values"])
    if kinds.get("data_input") is not None:
        values[dataset_key(data_input)] = str(kinds["data_input"])
    producer: dict[str, int] = {}
    saved_kind: dict[str, str] = {}
    for index, node in enumerate(nodes):
        for name in interface_names(node["outputs"]):
            producer[dataset_key(name)] = index
            if name in datasets:
                saved_kind[dataset_key(name)] = datasets[name]
    if data_input in datasets:
        saved_kind.setdefault(dataset_key(data_input), datasets[data_input])

    conversions: dict[tuple[str, str], Conversion] = {}

    def read_as(name: str) -> str | None:
        key = dataset_key(name)
        wanted = datasets.get(name) or saved_kind.get(key)
        produced = values.get(key)
        if wanted is None or produced is None or wanted == produced:
            return None
        if wanted not in FRAME_KINDS or produced not in FRAME_KINDS:
            return None  # only frames convert (a numpy array goes as it is)
        conversion = conversions.setdefault(
            (key, wanted), Conversion(key, wanted, converted_name(key, wanted))
        )
        return conversion.converted

    planned = []
    for node in nodes:
        names = {}
        for name in interface_names(node["inputs"]):
            converted = read_as(name)
            if converted is not None:
                names[name] = converted
        planned.append({**node, "inputs": renamed(node["inputs"], names)} if names else node)
    output_key = dataset_key(output)
    output_wanted = datasets.get(output) or saved_kind.get(output_key)
    at_start = tuple(item for item in conversions.values() if item.key not in producer)
    after: dict[int, tuple[Conversion, ...]] = {}
    for item in conversions.values():
        if item.key in producer:
            after[producer[item.key]] = (*after.get(producer[item.key], ()), item)
    produced_output = values.get(output_key)
    output_kind = (
        output_wanted
        if output_wanted in FRAME_KINDS
        and produced_output in FRAME_KINDS
        and output_wanted != produced_output
        else None
    )
    return ConversionPlan(planned, at_start, after, output_kind)  # type: ignore[arg-type]
