"""The Kedro project a log belongs to: ``ProjectDescription``, the one description every face
builds once and hands to the core (its path, configuration environment, the session's config
loader and the registered pipelines); finding a project's root, opening a session on it outside
a notebook (the shell command), its pipelines by name and samples read from its catalog.

The magics describe the session ``%reload_kedro`` loaded, the hook the session of its
``kedro run``; they share ``pipeline_named`` and ``load_sample_dataset`` so that every face says
the same thing about a wrong name. See ``docs/explanation/project-description.md``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kedro_mlflow_magic.errors import (
    ProjectNotFoundError,
    SampleError,
    UnknownPipelineError,
    one_line,
)
from kedro_mlflow_magic.quiet import load_quietly

if TYPE_CHECKING:
    from kedro.io import DataCatalog
    from kedro.pipeline import Pipeline


def find_project_root(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` whose pyproject.toml has a [tool.kedro] table."""
    for folder in [start, *start.parents]:
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and "[tool.kedro]" in pyproject.read_text(encoding="utf-8"):
            return folder
    return None


def find_project(path: str | Path | None = None) -> Path:
    """The root of the Kedro project at or above ``path`` (default: the current folder)."""
    start = Path(path if path is not None else Path.cwd()).expanduser().resolve()
    root = find_project_root(start) if start.is_dir() else None
    if root is None:
        where = "the current folder" if path is None else str(start)
        raise ProjectNotFoundError(
            f"{where} is not inside a Kedro project (no pyproject.toml with a [tool.kedro] "
            "table at or above it); run from inside the project or pass --project PATH"
        )
    return root


def pipeline_named(pipelines: Mapping[str, Pipeline], name: str) -> Pipeline:
    """The registered pipeline called ``name``; an unknown name lists the known ones."""
    if name not in pipelines:
        raise UnknownPipelineError(name, list(pipelines))
    return pipelines[name]


def load_sample_dataset(catalog: DataCatalog, name: str, option: str = "sample") -> Any:
    """Load the catalog dataset ``name`` as a sample; a failure names the dataset and the
    option it was given to."""
    if name not in catalog:
        raise SampleError(
            f"{option} {name}: the catalog has no dataset '{name}'; name a catalog dataset"
        )
    try:
        return load_quietly(catalog, name)
    except Exception as error:
        raise SampleError(
            f"{option} {name}: could not load the catalog dataset '{name}': "
            f"{type(error).__name__}: {one_line(str(error))}"
        ) from None


@dataclass(frozen=True)
class ProjectDescription:
    """A Kedro project as every face describes it to the core, built once per face.

    ``path``: the project's root. ``env``: its configuration environment (``kedro run --env``;
    None: Kedro's default, ``local``). ``config_loader``: the session's, through which the
    project's ``mlflow.yml`` and credentials are read, so that ``conf/<env>`` counts as it does
    for ``kedro run --env``. ``pipelines``: the registered pipelines, which tell the data input
    from artifacts that another pipeline produces. A field left out (the Python API without a
    project) falls back to what the pipeline's package tells, and to ``conf/local``.
    """

    path: Path | None = None
    env: str | None = None
    config_loader: Any = field(default=None, compare=False, repr=False)
    pipelines: Mapping[str, Pipeline] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.path is not None and not isinstance(self.path, Path):
            object.__setattr__(self, "path", Path(self.path))

    @classmethod
    def of_context(
        cls, context: Any, pipelines: Mapping[str, Pipeline] | None = None
    ) -> ProjectDescription:
        """A loaded session's project: ``context`` is ``session.load_context()`` (or the
        notebook's ``context``); ``pipelines`` default to the project's registered ones."""
        if pipelines is None:
            from kedro.framework.project import pipelines as registered

            pipelines = registered
        return cls(
            Path(context.project_path), getattr(context, "env", None),
            getattr(context, "config_loader", None), pipelines,
        )  # fmt: skip

    def pipeline(self, name: str) -> Pipeline:
        """The registered pipeline called ``name``; an unknown name lists the known ones."""
        return pipeline_named(self.pipelines, name)


@dataclass(frozen=True)
class OpenProject:
    """A Kedro project opened in a real ``KedroSession``: its description and catalog."""

    description: ProjectDescription
    session: Any
    context: Any

    @property
    def root(self) -> Path:
        return Path(self.context.project_path)

    @property
    def catalog(self) -> DataCatalog:
        return self.context.catalog

    def pipeline(self, name: str) -> Pipeline:
        return self.description.pipeline(name)


@contextlib.contextmanager
def open_project(root: str | Path, env: str | None = None) -> Iterator[OpenProject]:
    """Bootstrap the project at ``root`` and open a ``KedroSession`` on it (``env``: a Kedro
    configuration environment, as ``kedro run --env``); the session closes on exit."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    root = Path(root)
    bootstrap_project(root)
    with KedroSession.create(project_path=root, env=env) as session:
        context = session.load_context()
        yield OpenProject(ProjectDescription.of_context(context), session, context)
