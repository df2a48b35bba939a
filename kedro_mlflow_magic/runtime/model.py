"""``PipelineModel``: the MLflow pyfunc model that runs the Kedro nodes of its manifest."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import PythonModel

from .artifacts import load_artifact
from .conversions import Converter, converter, spark_session, to_pandas
from .copies import (
    Pending,
    StepCopies,
    copy_plan,
    make_copies,
    release_plan,
    schedule_copies,
)
from .frames import as_output_frame
from .integrity import check_artifacts
from .kinds import (
    FRAME_KINDS,
    PANDAS,
    Conversion,
    kind_of,
    needs_spark,
    plan_conversions,
)
from .manifest import MANIFEST_FORMAT, NodeEntry, dataset_key, interface_names, read_manifest
from .nodes import Step, compile_step, import_function
from .parameters import Parameters
from .records import PARAMETER_KINDS, parameter_converter
from .sharing import ArtifactCopies, copy_artifacts, hand_out_read_only, per_call_copiers
from .tracing import Call, Part, Wrap, WrapCall, call_span, node_span

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
        # where a value's kind (pandas, Spark, polars, numpy) differs from what its reader's
        # dataset gives: the conversions, placed after their producers; none where the kinds
        # agree (kinds.py; docs/explanation/behaviour.md#data-as-kedro-gives-it)
        kinds = manifest.get("kinds")  # absent in older manifests: no conversions
        self.spark = spark_session() if needs_spark(kinds) else None
        plan = plan_conversions(manifest["nodes"], kinds, manifest["data_input"], self.output)
        self.edges = Edges.of(kinds, plan.output_kind, self.output, self.spark)
        self.nodes = plan.nodes
        # the steps in running order: each node, then the conversions of what it produced
        self.order: list[NodeEntry | Conversion] = [*plan.at_start]
        for index, node in enumerate(plan.nodes):
            self.order += [node, *plan.after.get(index, ())]
        interfaces = [
            ([], [item.converted])  # a conversion changes nothing it reads: no copy for it
            if isinstance(item, Conversion)
            else (interface_names(item["inputs"]), interface_names(item["outputs"]))
            for item in self.order
        ]
        artifact_keys = {dataset_key(entry["dataset"]) for entry in manifest["artifacts"]}
        copiers = self.load_artifacts(manifest, context)
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
        # each value the steps produce is dropped after its last reader (Kedro's runner
        # releases it then): a call holds at most what Kedro's run of the pipeline holds
        self.released = release_plan(
            [
                ([item.key], [item.converted])
                if isinstance(item, Conversion)
                else (interface_names(item["inputs"]), interface_names(item["outputs"]))
                for item in self.order
            ],
            kept={self.output},
        )
        self.functions = {
            node["name"]: import_function(node["function"]) for node in manifest["nodes"]
        }
        # a model logged with trace=True records a span per node on every call; one without
        # wraps nothing (docs/guides/profiling.md)
        self.traced = bool(manifest.get("trace"))
        if self.traced:
            self.instrument(node_span, call_span)
        else:
            self.instrument(None, None)

    def load_artifacts(self, manifest: Any, context: Any) -> dict[str, Any]:
        """Load every artifact once (``self.constants``), decide which are copied for each
        reading node on every call (returned: key -> copier) and which are handed out
        read-only."""
        # their files as they were logged (the manifest's digests), before anything is loaded
        check_artifacts(manifest["artifacts"], context.artifacts)
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
        return copiers

    def compile_steps(self, observer: StepObserver | None) -> list[Step]:
        """The steps of a call, each node function and conversion wrapped by ``self.wrap``
        (when set), each node followed by ``observer`` (when given)."""
        steps = []
        wrap = self.wrap or unwrapped
        for item, item_copies, released in zip(
            self.order, self.step_copies, self.released, strict=True
        ):
            if isinstance(item, Conversion):
                convert = wrap(
                    Part(item.converted, item.key, False), converter(item.kind, self.spark)
                )
                steps.append(conversion_step(item, convert, item_copies, released))
                continue
            name = item["name"]
            function = wrap(Part(name, item["inputs"], True), self.functions[name])
            step = compile_step(item, function, item_copies, self.read_only, released)
            steps.append(step if observer is None else observed(step, name, observer))
        return steps

    def instrument(self, wrap: Wrap | None, wrap_call: WrapCall | None) -> None:
        """From now on, call each node function and conversion through ``wrap`` and each whole
        call through ``wrap_call`` (a trace's spans, a profile's timers); None: directly."""
        self.wrap = wrap
        self.steps: list[Step] = self.compile_steps(None)
        edges = self.edges.wrapped(wrap) if self.edges is not None and wrap else self.edges
        call: Call = self.run if edges is None else edges.caller(self.run)
        self.call = call if wrap_call is None else wrap_call(call)

    @property
    def artifacts(self) -> Mapping[str, Any]:
        """The artifacts as loaded (by dataset key, transcoding stripped): a read-only view of
        the objects every call shares."""
        return MappingProxyType(self.constants)

    def observe(self, observer: StepObserver) -> None:
        """From now on, call ``observer`` with each node's name right after the node ran
        (the core's artifact-drift check uses it on a fresh load; a served model never)."""
        self.steps = self.compile_steps(observer)

    # A DataFrame hint tells MLflow to infer no schema from hints: the logged signature rules.
    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> Any:
        # ``run``, through the edges of a model whose data input or output is not pandas,
        # wrapped when traced or profiled: decided at load (``instrument``)
        return self.call(model_input, params)

    def run(self, model_input: Any, params: dict[str, Any] | None) -> Any:
        """One call: the steps over the data input, the artifacts and the parameters."""
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


def conversion_step(
    conversion: Conversion, convert: Converter, copies: StepCopies, released: tuple[str, ...]
) -> Step:
    """The step converting a value for the readers that need it in another kind."""
    key, converted, made_after = conversion.key, conversion.converted, copies.made_after

    def step(data: Any, pending: Pending) -> None:
        data[converted] = convert(data[key])
        if made_after:
            make_copies(data, made_after, pending)
        for name in released:
            del data[name]

    return step


def unwrapped(part: Part, function: Callable[..., Any]) -> Callable[..., Any]:
    return function


class Edges:
    """What a model whose data input is not pandas, or whose output is not pandas, does at
    its edges: the caller's frame converted into the data input's kind (a pandas frame into
    the model's Spark session, or into polars), the output converted to its dataset's kind,
    and a Spark or polars output handed back as pandas to a caller who gave pandas."""

    def __init__(
        self,
        enter: Converter | None,
        leave: Converter | None,
        names: tuple[str, str, str] = ("", "", ""),
        back: Converter = to_pandas,
    ) -> None:
        self.enter = enter
        self.leave = leave
        self.back = back
        self.names = names  # what enter, leave and back convert, as a profile names them

    @classmethod
    def of(cls, kinds: Any, output_kind: str | None, output: str, spark: Any) -> Edges | None:
        if not kinds:
            return None
        data_input_kind = kinds.get("data_input")
        enter = (
            converter(data_input_kind, spark)
            if data_input_kind in FRAME_KINDS and data_input_kind != PANDAS
            else None
        )
        if data_input_kind in PARAMETER_KINDS:  # a parameter as the input: one row a call
            enter = parameter_converter(data_input_kind)
        leave = converter(output_kind, spark) if output_kind is not None else None
        produced = output_kind or kinds["values"].get(output)
        if enter is None and leave is None and (produced not in FRAME_KINDS or produced == PANDAS):
            return None
        names = (
            f"model input as {data_input_kind}",
            f"{output} as {output_kind}",
            f"{output} as pandas",
        )
        return cls(enter, leave, names)

    def wrapped(self, wrap: Wrap) -> Edges:
        """These edges with their conversions wrapped (``PipelineModel.instrument``)."""
        enter, leave = self.enter, self.leave
        return Edges(
            None if enter is None else wrap(Part(self.names[0], None, False), enter),
            None if leave is None else wrap(Part(self.names[1], None, False), leave),
            self.names,
            wrap(Part(self.names[2], None, False), self.back),
        )

    def caller(self, run: Call) -> Call:
        """A whole call: ``run`` between the edges."""
        return lambda model_input, params: self.predict(run, model_input, params)

    def predict(self, run: Callable[[Any, Any], Any], model_input: Any, params: Any) -> Any:
        caller = kind_of(model_input)
        if self.enter is not None:
            model_input = self.enter(model_input)
        output = run(model_input, params)
        if self.leave is not None:
            output = self.leave(output)
        if caller in FRAME_KINDS and caller != PANDAS:
            return output
        produced = kind_of(output)
        if produced in FRAME_KINDS and produced != PANDAS:
            # a pandas caller (serving, the magics, the CLI) gets pandas back
            return self.back(output)
        return output


def observed(step: Step, name: str, observer: StepObserver) -> Step:
    def run(data: Any, pending: Pending) -> None:
        step(data, pending)
        observer(name)

    return run
