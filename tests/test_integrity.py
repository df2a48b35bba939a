"""Digests in the manifest (each artifact file's sha256, each node function's source) and the
check at load: a copy of a model folder whose artifact file changed after logging fails to
load in one line naming the dataset and the file, before anything is loaded from it."""

from __future__ import annotations

import hashlib
import inspect
import json
import pathlib
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from review_models import customers, log_version, write_review_project
from servers import clean_environment

from kedro_mlflow_magic.runtime import MANIFEST_KEY, read_manifest


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory, mlflow_store: str) -> tuple[str, Path]:
    """The review project's inference pipeline logged once; its URI and project root."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_store)
        root = write_review_project(tmp_path_factory.mktemp("integrity") / "project", "integrity_p")
        info = log_version(root, "integrity_p", f"integrity-{root.parent.name}", customers())
    return info.model_uri, root


@pytest.fixture
def folder(logged: tuple[str, Path], tmp_path: Path) -> Path:
    """A downloaded copy of the logged model's folder, to change."""
    import mlflow

    return Path(mlflow.artifacts.download_artifacts(logged[0], dst_path=str(tmp_path / "copy")))


def manifest_in(folder: Path) -> dict:
    metadata = yaml.safe_load((folder / "MLmodel").read_text())
    return read_manifest(metadata["flavors"]["python_function"]["config"])


def test_the_manifest_records_the_digests_of_the_files_and_sources(folder: Path, logged):
    from importlib import import_module

    manifest = manifest_in(folder)
    (weights,) = manifest["artifacts"]
    file = folder / "artifacts" / weights["artifact"] / "weights.pkl"
    assert weights["sha256"] == {"weights.pkl": hashlib.sha256(file.read_bytes()).hexdigest()}
    (node,) = manifest["nodes"]
    source = inspect.getsource(import_module("integrity_p.nodes").score)
    assert node["source_sha256"] == hashlib.sha256(source.encode()).hexdigest()


def test_an_untouched_copy_loads_and_predicts(folder: Path):
    import mlflow

    answer = mlflow.pyfunc.load_model(str(folder)).predict(customers())
    assert answer["label"].tolist() == ["stay", "stay", "churn", "churn", "stay", "churn"]


class Planted:
    """A pickle that, when loaded, leaves a file behind: proof that it was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


@pytest.mark.slow
def test_a_changed_artifact_file_fails_the_load_in_one_line_before_it_is_read(
    folder: Path, tmp_path: Path, mlflow_store: str
):
    marker = tmp_path / "unpickled"
    weights = folder / "artifacts" / "weights" / "weights.pkl"
    weights.write_bytes(pickle.dumps(Planted(marker)))
    # a fresh process, as a server loads it: nothing of the project or of this test around
    load = f"import mlflow; mlflow.pyfunc.load_model({str(folder)!r})"
    finished = subprocess.run(
        [sys.executable, "-c", load], cwd=tmp_path, env=clean_environment(mlflow_store),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert finished.returncode != 0
    last = finished.stderr.strip().splitlines()[-1]
    # (the runtime ships inside the model under a name of its own: ``..._runtime_<hash>``)
    assert last.endswith(
        ".integrity.ArtifactIntegrityError: the artifact 'weights' does not match the model as it was "
        "logged: its file weights.pkl changed after the model was logged (its sha256 "
        "differs); load the model from its store again (or log it again) rather than from a "
        "copy whose files were changed"
    ), finished.stderr[-2000:]
    assert not marker.exists(), "the changed pickle was loaded before the check"


def test_a_missing_or_added_file_is_named(folder: Path):
    import mlflow
    from mlflow.exceptions import MlflowException

    artifact = folder / "artifacts" / "weights"
    (artifact / "notes.txt").write_text("added later")
    with pytest.raises(MlflowException, match=r"'weights'.*its file notes.txt was added") as added:
        mlflow.pyfunc.load_model(str(folder))
    assert type(added.value).__name__ == "ArtifactIntegrityError"
    (artifact / "notes.txt").unlink()
    (artifact / "weights.pkl").unlink()
    with pytest.raises(MlflowException, match=r"'weights'.*its file weights.pkl is missing"):
        mlflow.pyfunc.load_model(str(folder))


def test_a_model_logged_before_digests_loads_unchecked(folder: Path):
    import mlflow

    mlmodel = folder / "MLmodel"
    metadata = yaml.safe_load(mlmodel.read_text())
    wrapped = metadata["flavors"]["python_function"]["config"][MANIFEST_KEY]
    manifest = json.loads(wrapped[0])
    for artifact in manifest["artifacts"]:
        del artifact["sha256"]
    wrapped[0] = json.dumps(manifest)
    mlmodel.write_text(yaml.safe_dump(metadata))
    with open(folder / "artifacts" / "weights" / "weights.pkl", "wb") as file:
        pickle.dump({"tenure": 0.0, "charges": 0.0}, file)
    answer = mlflow.pyfunc.load_model(str(folder)).predict(customers())
    assert answer["score"].tolist() == [0.0] * 6


def test_kedro_predict_on_a_changed_copy_says_it_in_one_line(ipython_shell, folder: Path):
    from IPython.core.error import UsageError

    (folder / "artifacts" / "weights" / "weights.pkl").write_bytes(b"changed")
    ipython_shell.run_line_magic("load_ext", "kedro_mlflow_magic")
    ipython_shell.user_ns["frame"] = customers()
    with pytest.raises(UsageError) as error:
        ipython_shell.run_line_magic("kedro_predict", f"{folder} --data frame")
    message = str(error.value)
    assert "\n" not in message
    assert "the artifact 'weights' does not match the model as it was logged" in message
    assert "weights.pkl changed after the model was logged" in message


def test_a_copy_of_the_whole_folder_elsewhere_still_loads(folder: Path, tmp_path: Path):
    import mlflow

    moved = shutil.copytree(folder, tmp_path / "moved")
    assert len(mlflow.pyfunc.load_model(str(moved)).predict(customers())) == 6
