"""The virtual environment with kedro-mlflow 2.x that the tests beside kedro-mlflow run in
(never the main test environment, where its hooks would run in every KedroSession): built once
and cached under a folder keyed by the dependency versions and the checkout."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
KEDRO_MLFLOW = "kedro-mlflow>=2,<3"
KEDRO_MLFLOW_KERNEL = "kedro-mlflow-magic-beside-kedro-mlflow"


def venv_folder() -> Path:
    """One environment per Python, Kedro, MLflow, kedro-mlflow range and checkout."""
    key = "|".join(
        [sys.version, version("kedro"), version("mlflow"), KEDRO_MLFLOW, str(REPO)]
    ).encode()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "kedro-mlflow-magic" / f"kedro-mlflow-venv-{hashlib.sha1(key).hexdigest()[:12]}"


def kedro_mlflow_venv_python() -> Path:
    """A venv with this checkout (editable), kedro-mlflow 2.x and ipykernel, the same Kedro and
    MLflow as the main environment, and a kernelspec for it. Built once (a few minutes)."""
    from filelock import FileLock

    folder = venv_folder()
    python = folder / "bin" / "python"
    folder.parent.mkdir(parents=True, exist_ok=True)
    # pytest-xdist's workers may both need it: one builds, the other waits and reuses it
    with FileLock(f"{folder}.lock"):
        if not (folder / ".ready").is_file():
            build_venv(folder, python)
        spec = folder / "share" / "jupyter" / "kernels" / KEDRO_MLFLOW_KERNEL
        spec.mkdir(parents=True, exist_ok=True)
        kernel = {
            "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "kedro-mlflow beside kedro-mlflow-magic",
            "language": "python",
        }
        (spec / "kernel.json").write_text(json.dumps(kernel))
    return python


def build_venv(folder: Path, python: Path) -> None:
    """Make the venv in ``folder`` afresh; ``.ready`` in it once every package is installed."""
    shutil.rmtree(folder, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    subprocess.run(
        [
            str(python), "-m", "pip", "install", "-q", "-e", str(REPO), KEDRO_MLFLOW,
            f"kedro=={version('kedro')}", f"mlflow=={version('mlflow')}", "ipykernel",
        ],
        check=True,
    )  # fmt: skip
    (folder / ".ready").write_text("")
