"""``PipelineModel``: the MLflow pyfunc model that runs the Kedro nodes of its manifest."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import PythonModel

from .artifacts import load_artifact
from .copies import Pending, copy_plan, make_copies, schedule_copies
from .frames import as_output_frame
from .manifest import MANIFEST_FORMAT, dataset_key, interface_names, read_manifest
from .nodes import Step, compile_step, import_function
from .parameters import Parameters
from .sharing import ArtifactCopies, copy_artifacts, hand_out_read_only, per_call_copiers

# called after each node with its name, while observing (``PipelineModel.observe``)
StepObserver = Callable[[str], None]


class PipelineModel(PythonModel):
    """An MLflow pyfunc model that runs the Kedro nodes listed in its manifest.

    Everything a call does is decided in ``load_context``: the steps, which node gets its own
    copy of which input, and the artifacts, loaded once and shared by every call (those whose
    copy is cheap copied for each reading node, larger arrays read-only: ``sharing``)."""

    def load_context(self, context: Any) -> None:
        manifest = read_manifest(context.model_config)
        if manifest is None or manifest.get("format") != MANIFEST_FORMAT:
            found = None if manifest is None else manifest.get("format")
            raise MlflowException(
                f"this model's manifest has format {found!r}; "
                f"this runtime reads format {MANIFEST_FORMAT}"
            )
        self.data_input = dataset_key(manifest["data_input"])
        self.output = dataset_key(manifest["output"])
        self.output_column = manifest.get("output_column")  # absent in older manifests
        self.parameters = Parameters.of(manifest)
        self.nodes = manifest["nodes"]
        interfaces = [
            (interface_names(node["inputs"]), interface_names(node["outputs"]))
            for node in manifest["nodes"]
        ]
        artifact_keys = {dataset_key(entry["dataset"]) for entry in manifest["artifacts"]}
        # Artifacts are loaded once, here; each call reads the same objects, but for those
        # whose copy is cheap: each reading node gets its own copy on every call (sharing.py)
        self.constants = {
            dataset_key(entry["dataset"]): load_artifact(
                entry, context.artifacts[entry["artifact"]]
            )
            for entry in manifest["artifacts"]
        }
        copiers = per_call_copiers(
            self.constants,
            {
                dataset_key(entry["dataset"]): None
                if entry.get("flavor")  # an MLflow model is never copied
                else context.artifacts[entry["artifact"]]
                for entry in manifest["artifacts"]
            },
            # a node changes them in place (seen at log time): copied per call whatever the cost
            changed={
                dataset_key(e["dataset"]) for e in manifest["artifacts"] if e.get("changed_by")
            },
        )
        self.read_only = frozenset(
            key
            for key, value in self.constants.items()
            if key not in copiers and hand_out_read_only(value)
        )
        # Only the output is seen after the call, and the artifacts copied per call (by the
        # next calls). The caller's frame is not: through mlflow.pyfunc the model gets a frame
        # of its own (MLflow's schema enforcement builds it).
        copies = copy_plan(
            interfaces,
            observed_after={self.output, *copiers},
            parameter_paths=manifest["parameter_inputs"],
            shared=(artifact_keys - set(copiers)) | self.parameters.immutable_inputs(),
        )
        at_start, self.step_copies = schedule_copies(copies, [outputs for _, outputs in interfaces])
        self.copies_at_start = tuple(order for order in at_start if order[1] not in copiers)
        self.artifact_copies: ArtifactCopies = tuple(
            (reader, key, copiers[key]) for reader, key in at_start if key in copiers
        )
        self.functions = [import_function(node["function"]) for node in manifest["nodes"]]
        self.steps: list[Step] = [
            compile_step(node, function, node_copies, self.read_only)
            for node, function, node_copies in zip(
                manifest["nodes"], self.functions, self.step_copies, strict=True
            )
        ]

    @property
    def artifacts(self) -> Mapping[str, Any]:
        """The artifacts as loaded (by dataset key, transcoding stripped): a read-only view of
        the objects every call shares."""
        return MappingProxyType(self.constants)

    def observe(self, observer: StepObserver) -> None:
        """From now on, call ``observer`` with each node's name right after the node ran
        (the core's artifact-drift check uses it on a fresh load; a served model never)."""
        self.steps = [
            observed(
                compile_step(node, function, node_copies, self.read_only), node["name"], observer
            )
            for node, function, node_copies in zip(
                self.nodes, self.functions, self.step_copies, strict=True
            )
        ]

    # A DataFrame hint tells MLflow to infer no schema from hints: the logged signature rules.
    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> Any:
        data = dict(self.constants)
        data.update(self.parameters.values(params))
        data[self.data_input] = model_input
        pending: Pending = {}
        make_copies(data, self.copies_at_start, pending)
        if self.artifact_copies:
            copy_artifacts(self.constants, self.artifact_copies, pending)
        for step in self.steps:
            step(data, pending)
        return as_output_frame(data[self.output], self.output_column)


def observed(step: Step, name: str, observer: StepObserver) -> Step:
    def run(data: Any, pending: Pending) -> None:
        step(data, pending)
        observer(name)

    return run
