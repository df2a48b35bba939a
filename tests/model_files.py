"""Checks on the files of a logged model, shared by every test that logs one."""

from __future__ import annotations

import json
import pickletools
from pathlib import Path

# Planted in every test project's package folder (conftest: make_project and the demo): files a
# user keeps beside the code that must never ship in a model. The suite-wide scan looks for their
# tokens in every file of every model, as it does for the credentials' values.
DOTENV_TOKEN = "planted-dotenv-token-3f9b27c1e5"
NOTEBOOK_TOKEN = "planted-notebook-token-a41d08e6c2"
PLANTED_TOKENS = frozenset({DOTENV_TOKEN, NOTEBOOK_TOKEN})


def plant_package_secrets(package_folder: Path) -> None:
    """A ``.env`` holding a token and a notebook whose saved output shows one, in the package."""
    (package_folder / ".env").write_text(f"API_TOKEN={DOTENV_TOKEN}\n")
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": 1,
                "metadata": {},
                "source": ["import os\n", "os.environ['API_TOKEN']"],
                "outputs": [
                    {
                        "output_type": "execute_result",
                        "execution_count": 1,
                        "metadata": {},
                        "data": {"text/plain": [repr(NOTEBOOK_TOKEN)]},
                    }
                ],
            }
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (package_folder / "exploration.ipynb").write_text(json.dumps(notebook))


def model_folder(model_uri: str) -> Path:
    """Download (or locate) the model's files."""
    import mlflow

    return Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri))


def is_pickle(path: Path) -> bool:
    data = path.read_bytes()
    if not data.startswith(b"\x80"):
        return False
    try:
        for _ in pickletools.genops(data):
            pass
    except Exception:
        return False
    return True


def assert_model_is_clean(
    model_uri: str, secrets: list[str] = (), allowed_pickles: set[str] = frozenset()
) -> Path:
    """No secret in any file of the model; no pickle but the allowed ones (file names);
    no python_model.pkl. Returns the model folder."""
    folder = model_folder(model_uri)
    files = [path for path in folder.rglob("*") if path.is_file()]
    assert files, f"the model {model_uri} has no files"
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"secret {secret!r} found in {path}"
        if is_pickle(path):
            assert path.name in allowed_pickles, f"unexpected pickle in the model: {path}"
    assert not (folder / "python_model.pkl").exists()
    return folder


def credential_values(folder: Path, shortest: int = 6) -> set[str]:
    """Every text value (long enough not to match by chance) of every credentials.yml below
    ``folder``: what no model file may contain."""
    import yaml

    def values(node: object) -> set[str]:
        if isinstance(node, dict):
            return set().union(*(values(item) for item in node.values()))
        if isinstance(node, list):
            return set().union(*(values(item) for item in node))
        return {str(node)} if node is not None and len(str(node)) >= shortest else set()

    found: set[str] = set()
    for path in folder.rglob("credentials*.yml"):
        found |= values(yaml.safe_load(path.read_text()) or {})
    return found


def manifest_of(model: Path) -> dict | None:
    """The manifest our runtime reads (``model_config`` of the pyfunc flavour), if any."""
    import yaml

    from kedro_mlflow_magic.runtime import read_manifest

    flavours = yaml.safe_load((model / "MLmodel").read_text()).get("flavors", {})
    return read_manifest(flavours.get("python_function", {}).get("config"))


def model_problems(model: Path, secrets: set[str]) -> list[str]:
    """What is wrong with one model folder: a secret in a file; in one of our models (it has a
    manifest), a pickle that is neither a pickle artifact of the project, nor a frozen input
    named in its manifest, nor inside an MLflow model artifact's own files (the other models
    tests log, plain ``PythonModel`` ones, are pickles)."""
    manifest = manifest_of(model)
    allowed = set()
    # an MLflow model artifact's own files (its flavor may pickle the model): the project's
    nested: list[Path] = []
    if manifest is not None:
        allowed = {
            model / "artifacts" / entry["artifact"] / entry["file"]
            for entry in manifest["artifacts"]
            if entry["frozen"] or "pickle" in entry["type"].lower()
        }
        nested = [
            model / "artifacts" / entry["artifact"] / entry["file"]
            for entry in manifest["artifacts"]
            if entry.get("flavor")
        ]
    problems = []
    if manifest is not None:
        # only Python source and the files the user included ship under code/
        included = set(manifest.get("included_files", []))
        for path in (path for path in (model / "code").rglob("*") if path.is_file()):
            relative = path.relative_to(model / "code").as_posix()
            if path.suffix != ".py" and relative not in included:
                problems.append(f"{path}: not Python source and not included by the user")
    for path in (path for path in model.rglob("*") if path.is_file()):
        data = path.read_bytes()
        problems += [
            f"{path}: holds the secret {secret!r}" for secret in secrets if secret.encode() in data
        ]
        in_nested_model = any(path.is_relative_to(folder) for folder in nested)
        if manifest is not None and is_pickle(path) and path not in allowed and not in_nested_model:
            problems.append(f"{path}: a pickle the manifest does not name")
    if manifest is not None and (model / "python_model.pkl").exists():
        problems.append(f"{model}: has a python_model.pkl")
    return problems
