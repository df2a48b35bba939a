"""Input roles of a pipeline: the data input, artifacts, parameters and problems
(docs/explanation/behaviour.md#input-roles)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from kedro.io import DataCatalog, MemoryDataset
from kedro.io.core import is_parameter
from kedro.pipeline import Pipeline

from kedro_mlflow_magic.display import Summary
from kedro_mlflow_magic.display.roles import roles_html, roles_text
from kedro_mlflow_magic.errors import UnknownDataInputError
from kedro_mlflow_magic.inspect import mlflow_models
from kedro_mlflow_magic.inspect.data_input import model_pipeline, persisted_candidates
from kedro_mlflow_magic.inspect.kinds import dataset_kind
from kedro_mlflow_magic.inspect.mlflow_models import InnerDataset, ModelSource
from kedro_mlflow_magic.inspect.outputs import LeftOutNode, model_part
from kedro_mlflow_magic.inspect.picture import checked_expansion
from kedro_mlflow_magic.quiet import load_quietly

PATH_KEYS = ("filepath", "path")


@dataclass(frozen=True)
class Artifact:
    """A free input shipped inside the model: its files, or its current value when frozen."""

    name: str
    dataset_type: str
    path: str | None
    config: dict[str, Any] = field(default_factory=dict, repr=False)
    path_key: str = "filepath"
    frozen: bool = False
    # an MLflow model shipped as an artifact: where it comes from, pinned; its files are the
    # model's own
    mlflow_model: ModelSource | None = None
    # a kedro-mlflow MlflowArtifactDataset that reads its file from a run: that run
    from_run: InnerDataset | None = None


@dataclass(frozen=True)
class Problem:
    """Something that stops the pipeline from being packaged, with the fix."""

    name: str
    kind: str
    reason: str
    fix: str

    def __str__(self) -> str:
        return f"{self.name}: {self.reason} Fix: {self.fix}"


@dataclass(repr=False)
class PipelineInputs(Summary):
    """What each free input of a pipeline is when the pipeline becomes a model."""

    data_input: str | None
    artifacts: dict[str, Artifact]
    parameters: dict[str, Any]
    problems: list[Problem]
    outputs: list[str]
    free_inputs: list[str]
    data_input_candidates: list[str] = field(default_factory=list)
    pipeline: Pipeline | None = field(default=None, compare=False)
    note: str | None = None
    # the kind of data (pandas, Spark, polars, numpy) each free input loads as, from its
    # catalog type (absent: as produced)
    kinds: dict[str, str] = field(default_factory=dict)
    # the namespaces its picture shows open (``expand``)
    expanded: tuple[str, ...] = ()
    # the nodes the model does not run, each with why (``inspect.outputs``)
    left_out: list[LeftOutNode] = field(default_factory=list)

    def expand(self, *namespaces: str) -> PipelineInputs:
        """The same inputs, their picture with these namespaces open (as
        ``%kedro_inputs PIPELINE --expand NAMESPACE``); an unknown one is an error that lists
        the pipeline's namespaces."""
        if self.pipeline is None:
            return self
        opened = checked_expansion(self.pipeline, [*self.expanded, *namespaces])
        return replace(self, expanded=opened)

    def summary_text(self) -> str:
        return roles_text(self)

    def summary_html(self) -> str:
        return roles_html(self)


def function_reference(function: Any) -> str | None:
    """``module:qualname`` of an importable function, or None when it cannot be imported back."""
    module = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", None)
    if not module or not qualname or "<" in qualname or module == "__main__":
        return None
    return f"{module}:{qualname}"


def node_problems(pipeline: Pipeline) -> list[Problem]:
    """Nodes whose function a model could not import back (defined in a notebook, a lambda...)."""
    problems = []
    for node in pipeline.nodes:
        if function_reference(node.func) is not None:
            continue
        where = getattr(node.func, "__module__", None)
        reason = (
            "its function is defined in the notebook (__main__), which a model cannot import."
            if where == "__main__"
            else "its function is a lambda or a local function, which a model cannot import."
        )
        problems.append(
            Problem(
                name=f"node {node.name}",
                kind="node-function",
                reason=reason,
                fix="move the function into a module of the project's package "
                "(e.g. src/<package>/nodes.py) and build the node from there.",
            )
        )
    return problems


def parameter_value(catalog: DataCatalog, name: str) -> tuple[bool, Any]:
    if name not in catalog:
        return False, None
    return True, load_quietly(catalog, name)


def dataset_configs(catalog: DataCatalog, names: list[str]) -> dict[str, dict[str, Any]]:
    """Catalog settings of the named datasets, as Kedro serialises them (credentials left out)."""
    for name in names:
        catalog.get(name)  # materialise datasets that come from factory patterns
    configs, _credentials, _versions, _save_version = catalog.to_config()
    return configs


def classify(
    name: str,
    catalog: DataCatalog,
    configs: dict[str, dict[str, Any]],
    frozen: bool,
) -> Artifact | Problem:
    """Artifact or problem, for a free input that is neither a parameter nor the data input."""
    if name not in catalog:
        if frozen:
            return Problem(
                name,
                "not-in-catalog",
                "is not in the catalog, so there is no value to freeze.",
                "add it to conf/base/catalog.yml, or pass it as the data input.",
            )
        return Problem(
            name,
            "not-in-catalog",
            "is not in the catalog.",
            "add it to conf/base/catalog.yml with a file-based dataset type "
            "(e.g. pickle.PickleDataset), or pass it as the data input.",
        )
    dataset = catalog.get(name)
    dataset_type = catalog.get_type(name) or type(dataset).__name__
    if isinstance(dataset, MemoryDataset):
        if not dataset.exists():
            return Problem(
                name,
                "empty-memory",
                "is a MemoryDataset with no data.",
                "persist it in the catalog (e.g. pickle.PickleDataset) and run the pipeline "
                "that produces it, or give it a value and freeze it.",
            )
        if frozen:
            return Artifact(name, "kedro_datasets.pickle.PickleDataset", None, frozen=True)
        return Problem(
            name,
            "memory-only",
            "holds data only in memory, not in files.",
            f"freeze it (freeze=['{name}'] or --freeze {name}) to store its current value.",
        )
    if frozen:
        return Artifact(name, "kedro_datasets.pickle.PickleDataset", None, frozen=True)
    config = {key: value for key, value in configs.get(name, {}).items() if key != "credentials"}
    if mlflow_models.is_artifact_wrapper(dataset, config):
        return wrapped_artifact(name, catalog, dataset)
    if mlflow_models.is_model_entry(dataset, config):
        return mlflow_model_artifact(name, dataset, dataset_type, config)
    return file_artifact(name, dataset, dataset_type, config)


def file_artifact(
    name: str, dataset: Any, dataset_type: str, config: dict[str, Any]
) -> Artifact | Problem:
    """A dataset persisted to files: the artifact is its files, type and load settings."""
    path_key = next((key for key in PATH_KEYS if isinstance(config.get(key), str)), None)
    if path_key is None:
        return Problem(
            name,
            "not-in-files",
            f"is a {dataset_type.rsplit('.', 1)[-1]} whose data are not "
            "in files (a table, a service...).",
            f"freeze it (freeze=['{name}'] or --freeze {name}) to store its current value.",
        )
    path = config.pop(path_key)
    if not dataset.exists():
        return Problem(
            name,
            "missing-file",
            f"has no file at {path}.",
            "run the pipeline that produces it (kedro run) or fix its path in the catalog.",
        )
    return Artifact(name, config.pop("type", dataset_type), path, config, path_key)


def wrapped_artifact(name: str, catalog: DataCatalog, dataset: Any) -> Artifact | Problem:
    """A kedro-mlflow ``MlflowArtifactDataset`` is the dataset it wraps: its type, load
    settings and files (fetched from its run at log time when it reads from one)."""
    inner = mlflow_models.inner_dataset(catalog, name, dataset)
    if inner is None:
        return Problem(
            name,
            "not-in-files",
            "is a kedro-mlflow MlflowArtifactDataset whose wrapped dataset is not in the "
            "catalog's configuration (made in code?).",
            "declare it in conf/base/catalog.yml (type: kedro_mlflow.io.artifacts."
            f"MlflowArtifactDataset, dataset: ...), or freeze it (--freeze {name}).",
        )
    config = dict(inner.config)
    dataset_type = mlflow_models.full_type(config.pop("type"))
    if inner.run_id:
        path_key = next((key for key in PATH_KEYS if isinstance(config.get(key), str)), None)
        if path_key is None:
            return Problem(
                name,
                "not-in-files",
                f"wraps a {dataset_type.rsplit('.', 1)[-1]} whose data are not in files.",
                f"freeze it (freeze=['{name}'] or --freeze {name}) to store its current value.",
            )
        path = config.pop(path_key)
        return Artifact(name, dataset_type, path, config, path_key, from_run=inner)
    return file_artifact(name, dataset, dataset_type, config)


def mlflow_model_artifact(
    name: str, dataset: Any, dataset_type: str, config: dict[str, Any]
) -> Artifact | Problem:
    """An MLflow model entry: an artifact whose files are the MLflow model's, pinned now (an
    alias or stage resolved to the version it names), loaded with its flavor in the model."""
    try:
        source = mlflow_models.resolve_source(dataset, config)
    except mlflow_models.UnresolvedModel as error:
        return Problem(
            name,
            "mlflow-model",
            f"is an MLflow model ({dataset_type.rsplit('.', 1)[-1]}) that {error}.",
            "point it at a logged or registered model (load_args.model_uri: models:/..., "
            "model_name and alias) or at a saved model folder, or run the pipeline that "
            "saves it.",
        )
    return Artifact(
        name,
        config.get("type", dataset_type),
        source.pinned_uri,
        {"load_args": source.load_args} if source.load_args else {},
        path_key="",
        mlflow_model=source,
    )


def undetermined_data_input(candidates: list[str]) -> Problem:
    """The problem of a data input that could not be guessed, with the exact fix."""
    if candidates:
        reason = f"could not be chosen among {', '.join(candidates)}."
        example = candidates[0]
    else:
        reason = "could not be guessed: every free input is a parameter or an artifact."
        example = "NAME"
    return Problem(
        "data input",
        "data-input-undetermined",
        reason,
        f"name it: --input {example} in a magic, data_input='{example}' in Python.",
    )


def session_parameters(
    catalog: DataCatalog, free_inputs: list[str]
) -> tuple[dict[str, Any], list[Problem]]:
    """The parameters among the free inputs with their values in the session, and a problem
    for each one the project does not set."""
    parameters: dict[str, Any] = {}
    problems: list[Problem] = []
    for name in free_inputs:
        if not is_parameter(name):
            continue
        found, value = parameter_value(catalog, name)
        if found:
            parameters[name] = value
        else:
            problems.append(
                Problem(
                    name,
                    "missing-parameter",
                    "is not set in the project's parameters.",
                    f"add '{name.removeprefix('params:')}' to conf/base/parameters.yml.",
                )
            )
    return parameters, problems


def inspect_pipeline(
    pipeline: Pipeline,
    catalog: DataCatalog,
    data_input: str | None = None,
    *,
    output: str | None = None,
    freeze: tuple[str, ...] | list[str] = (),
    pipelines: Mapping[str, Pipeline] | None = None,
) -> PipelineInputs:
    """Sort the pipeline's free inputs into data input, artifacts, parameters and problems.

    ``freeze`` names inputs whose current value is stored in the model (pickled) because their
    data are not in files. ``pipelines`` (the project's registered pipelines) tell which
    persisted inputs are artifacts (another pipeline produces them) when the data input is
    guessed: the free input that is not an artifact, else the persisted one that loads a frame.
    A kedro-mlflow ``PipelineML`` is read as its inference pipeline, with its ``input_name`` as
    the data input (unless ``data_input`` names another). The roles are those of the part of
    the pipeline a model runs: what ``output`` needs (any dataset the pipeline produces), or
    without it what its outputs need; the other nodes are listed in ``left_out``.
    """
    pipeline, data_input, note = model_pipeline(pipeline, data_input)
    pipeline, left_out = model_part(pipeline, output)
    free_inputs = sorted(pipeline.inputs())
    if data_input is not None and data_input not in free_inputs:
        raise UnknownDataInputError(data_input, free_inputs)
    unknown_frozen = sorted(set(freeze) - set(free_inputs))
    if unknown_frozen:
        raise UnknownDataInputError(unknown_frozen[0], free_inputs, role="input to freeze")

    parameters, problems = session_parameters(catalog, free_inputs)
    parameters.pop(str(data_input), None)  # a parameter as the model's input is its input

    others = [name for name in free_inputs if not is_parameter(name) and name != data_input]
    configs = dataset_configs(catalog, [name for name in others if name in catalog])
    roles = {name: classify(name, catalog, configs, name in freeze) for name in others}
    artifacts = {name: role for name, role in roles.items() if isinstance(role, Artifact)}
    candidates = [name for name in others if name not in artifacts]
    if data_input is None and not candidates:
        # every free input is persisted: the one that loads a frame and that no other pipeline
        # produces is the data input (kedro-mlflow users persist it, e.g. as a pickle)
        candidates = persisted_candidates(pipeline, catalog, artifacts, pipelines or {})
        for name in candidates:
            artifacts.pop(name)
    if data_input is None and len(candidates) == 1:
        data_input = candidates[0]
    problems += [
        role for name, role in roles.items() if isinstance(role, Problem) and name != data_input
    ]
    if data_input is None:
        problems.insert(0, undetermined_data_input(candidates))
    problems += node_problems(pipeline)
    return PipelineInputs(
        data_input=data_input,
        artifacts=artifacts,
        parameters=parameters,
        problems=problems,
        outputs=sorted(pipeline.outputs()),
        free_inputs=free_inputs,
        data_input_candidates=candidates,
        pipeline=pipeline,
        note=note,
        left_out=left_out,
        kinds={
            name: kind
            for name in free_inputs
            if not is_parameter(name) and (kind := dataset_kind(catalog, name)) is not None
        },
    )
