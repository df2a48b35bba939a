"""The runtime that ships inside every logged model: reads the manifest, loads the artifacts
once, predicts.

It imports only the standard library, MLflow, Kedro, pandas, numpy and what the artifacts'
dataset types import; never IPython, widgets or the rest of ``kedro_mlflow_magic``. Its modules
import each other relatively only, because each model ships a copy of this package under a
name of its own, derived from its content (see ``staging.stage_runtime``): a model logged
with another release of the runtime keeps running its own, even in a process that has this
package imported. One concept a module:

- ``manifest``: the manifest's layout and where it sits in ``model_config``;
- ``nodes``: each node compiled into a step, at load time;
- ``copies``: which node gets its own copy of which input (Kedro's copy semantics);
- ``parameters``: the parameter inputs rebuilt per call from overridable leaves;
- ``frames``: what the model returns for the pipeline's output;
- ``artifacts``: the artifacts' datasets, re-created and loaded once;
- ``integrity``: the artifacts' files checked against their digests, before they are loaded;
- ``kinds``: the kind of each value (pandas, numpy, Spark, polars) and where a call converts;
- ``conversions``: pandas <-> Spark <-> polars in memory, and the model's Spark session;
- ``records``: a parameter as the model's input, one row a call;
- ``model``: ``PipelineModel``, the MLflow pyfunc model (imported by the model's entry file).

The core imports the names below; ``model`` (MLflow's pyfunc) only where it is needed.
"""

from .copies import copy_plan, own_copy, schedule_copies
from .frames import as_output_frame
from .kinds import kind_of
from .manifest import (
    MANIFEST_FORMAT,
    MANIFEST_KEY,
    ArtifactEntry,
    BatchDependenceEntry,
    KindsEntry,
    Manifest,
    NodeEntry,
    ParameterEntry,
    dataset_key,
    interface_names,
    model_config_of,
    read_manifest,
)
from .parameters import Parameters

__all__ = [
    "MANIFEST_FORMAT",
    "MANIFEST_KEY",
    "ArtifactEntry",
    "BatchDependenceEntry",
    "KindsEntry",
    "Manifest",
    "NodeEntry",
    "ParameterEntry",
    "Parameters",
    "as_output_frame",
    "copy_plan",
    "dataset_key",
    "interface_names",
    "kind_of",
    "model_config_of",
    "own_copy",
    "read_manifest",
    "schedule_copies",
]
