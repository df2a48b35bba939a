"""Run by ``check_environment`` inside a model's own environment (``python -I``, so that nothing
but that environment's packages is importable): load the model, predict its input example, and
write what happened as JSON. A script on its own: it imports the standard library, MLflow and
what the model imports, nothing of this package (which that environment does not have).

``python -I environment_probe.py MODEL_FOLDER REPORT_FILE``
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import platform
import re
import sys
from typing import Any

MISSING_MODULE = re.compile(r"No module named '([^']+)'")


def missing_module(error: BaseException) -> str | None:
    """The module whose import failed, when that is what ``error`` (or what it was raised
    from) is; MLflow sometimes wraps the ``ModuleNotFoundError`` in its own exception."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ModuleNotFoundError) and current.name:
            return current.name
        current = current.__cause__ or current.__context__
    found = MISSING_MODULE.search(str(error))
    return found.group(1) if found else None


def installed_packages() -> dict[str, str]:
    """Every distribution of this environment and its version."""
    return {
        str(distribution.metadata["Name"]): distribution.version
        for distribution in importlib.metadata.distributions()
        if distribution.metadata["Name"]
    }


def probe(model_folder: str) -> dict[str, Any]:
    report: dict[str, Any] = {
        "python": platform.python_version(),
        "prefix": sys.prefix,
        "packages": installed_packages(),
        "stage": "loading the model",
    }
    try:
        import mlflow
        from mlflow.models import Model
        from mlflow.pyfunc.scoring_server import predictions_to_json

        model = mlflow.pyfunc.load_model(model_folder, suppress_warnings=True)
        report["stage"] = "predicting its input example"
        example = Model.load(model_folder).load_input_example(model_folder)
        prediction = model.predict(example)
        # in the form a server of this model answers with, compared with the same form here
        answer = io.StringIO()
        predictions_to_json(prediction, answer)
        report["predictions"] = json.loads(answer.getvalue())["predictions"]
        report["stage"] = "done"
    except BaseException as error:  # every failure is reported, none raised
        report["error"] = f"{type(error).__name__}: {error}"
        report["missing_module"] = missing_module(error)
    return report


def main(arguments: list[str]) -> int:
    model_folder, report_file = arguments
    report = probe(model_folder)
    with open(report_file, "w", encoding="utf-8") as stream:
        json.dump(report, stream)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
