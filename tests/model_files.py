"""Checks on the files of a logged model, shared by every test that logs one."""

from __future__ import annotations

import pickletools
from pathlib import Path


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
    """What is wrong with one model folder: a secret in a file, or a pickle that is neither a
    pickle artifact of the project nor a frozen input named in its manifest."""
    manifest = manifest_of(model)
    allowed = set()
    if manifest is not None:
        allowed = {
            model / "artifacts" / entry["artifact"] / entry["file"]
            for entry in manifest["artifacts"]
            if entry["frozen"] or "pickle" in entry["type"].lower()
        }
    problems = []
    for path in (path for path in model.rglob("*") if path.is_file()):
        data = path.read_bytes()
        problems += [
            f"{path}: holds the secret {secret!r}" for secret in secrets if secret.encode() in data
        ]
        if manifest is not None and is_pickle(path) and path not in allowed:
            problems.append(f"{path}: a pickle the manifest does not name")
    if (model / "python_model.pkl").exists():
        problems.append(f"{model}: has a python_model.pkl")
    return problems
