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
