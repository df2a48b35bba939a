"""A logged model as a review reads it: its folder downloaded once, its ``MLmodel`` (signature,
manifest), requirements and input example read from there, and its answers on a frame given by
its own code.

Two versions of one project ship packages of the same name (``churn.nodes``) with different
source, and Python imports a module once per process: left alone, the second model loaded
would run the first one's nodes (or the notebook's project's). While a reviewed model loads
and predicts, the modules its ``code/`` folder ships are its own; afterwards the process gets
back the ones it had.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
from mlflow.models import Model, ModelSignature

from kedro_mlflow_magic.errors import model_read_error
from kedro_mlflow_magic.runtime import Manifest, read_manifest

PYFUNC = "python_function"
REQUIREMENTS_FILE = "requirements.txt"


@dataclass(frozen=True)
class ReviewedModel:
    """One side of a review: the URI as given, its downloaded folder, and what it holds."""

    uri: str
    folder: Path
    metadata: Model
    manifest: Manifest | None
    requirements: tuple[str, ...]

    @classmethod
    def download(cls, uri: str, destination: Path) -> ReviewedModel:
        """Download the model at ``uri`` (any URI MLflow takes) into ``destination``."""
        try:
            local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(destination))
            metadata = Model.load(local)
        except Exception as error:
            raise model_read_error(uri, error, "read", mlflow.get_tracking_uri()) from None
        folder = Path(local)
        flavor = metadata.flavors.get(PYFUNC) or {}
        return cls(
            uri, folder, metadata, read_manifest(flavor.get("config")), requirements_of(folder)
        )

    @property
    def signature(self) -> ModelSignature | None:
        return self.metadata.signature

    @property
    def code_folder(self) -> Path | None:
        """The folder of the Python source the model ships (MLflow's ``code_paths``)."""
        code = (self.metadata.flavors.get(PYFUNC) or {}).get("code")
        return self.folder / code if code else None

    def input_example(self) -> Any:
        """The input example logged with the model, as its loader gives it; None without one."""
        try:
            return self.metadata.load_input_example(str(self.folder))
        except Exception:
            return None

    def answers(self, data: Any) -> Any:
        """What the model answers on ``data`` (its parameters' defaults), loaded and run with
        the modules it ships."""
        with own_code(self.code_folder):
            # suppress_warnings: the requirements' differences are the review's to show
            model = mlflow.pyfunc.load_model(str(self.folder), suppress_warnings=True)
            return model.predict(data)


def requirements_of(folder: Path) -> tuple[str, ...]:
    """The requirement lines of the model's ``requirements.txt`` (no comments, no options)."""
    path = folder / REQUIREMENTS_FILE
    if not path.is_file():
        return ()
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return tuple(line for line in lines if line and not line.startswith("-"))


def shipped_modules(code: Path) -> set[str]:
    """The top-level modules and packages a model's code folder holds."""
    return {
        path.stem if path.suffix == ".py" else path.name
        for path in code.iterdir()
        if path.suffix == ".py" or (path.is_dir() and not path.name.startswith((".", "__")))
    }


@contextlib.contextmanager
def own_code(code: Path | None) -> Iterator[None]:
    """While the body loads and runs a model: the modules of its ``code`` folder are imported
    from there, not taken from what this process imported before (the project's, another
    model's); afterwards the process's own modules and ``sys.path`` are back as they were."""
    if code is None or not code.is_dir():
        yield
        return
    names = shipped_modules(code)

    def shipped(module: str) -> bool:
        return module.partition(".")[0] in names

    saved = {name: module for name, module in sys.modules.items() if shipped(name)}
    path = list(sys.path)
    for name in saved:
        del sys.modules[name]
    importlib.invalidate_caches()
    try:
        yield
    finally:
        for name in [name for name in sys.modules if shipped(name)]:
            del sys.modules[name]
        sys.modules.update(saved)
        sys.path[:] = path
