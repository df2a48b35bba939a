"""The runtime as a package shipped inside each model (issue 19): under a name derived from its
content, importing nothing else of ours; a model runs its own copy even in a process that has
this package imported; models logged by an earlier release (a single ``runtime.py``) still load."""

from __future__ import annotations

import ast
import json
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from model_files import model_folder
from sessions import load_project

from kedro_mlflow_magic import log_pipeline_model, runtime
from kedro_mlflow_magic.build.shipped_code import (
    ENTRY_FILE,
    RUNTIME_PACKAGE,
    shipped_runtime_name,
    stage_runtime,
)

LEGACY_MODEL = Path(__file__).parent / "data" / "models" / "release-0.1.0"

NODES = """\
import pandas as pd

def double(rows: pd.DataFrame, factor: float) -> pd.DataFrame:
    return rows.assign(value=rows["value"] * factor)
"""
PIPELINES = """\
return {"score": pipeline([node(nodes.double, ["rows", "params:factor"], "scored", name="double")])}
"""
ROWS = pd.DataFrame({"value": [1.0, 2.0, 3.0]})


def test_the_runtime_imports_only_itself_relatively() -> None:
    """Each module of the runtime imports its siblings relatively and nothing else of ours, so
    that the package runs under its shipped name."""
    for path in RUNTIME_PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text())
        for statement in ast.walk(tree):
            if isinstance(statement, ast.Import):
                names = [alias.name for alias in statement.names]
            elif isinstance(statement, ast.ImportFrom) and statement.level == 0:
                names = [statement.module or ""]
            else:
                continue
            assert not any(name.partition(".")[0] == "kedro_mlflow_magic" for name in names), (
                f"{path.name} imports {names}"
            )


def test_the_shipped_name_follows_the_content(tmp_path: Path) -> None:
    name = shipped_runtime_name()
    assert name.startswith("kedro_mlflow_magic_runtime_") and name.isidentifier()
    entry, package = stage_runtime(tmp_path)
    assert package.name == name
    assert sorted(path.name for path in package.iterdir()) == sorted(
        path.name for path in RUNTIME_PACKAGE.glob("*.py")
    )
    assert f"from {name}.model import PipelineModel" in entry.read_text()
    # another content, another name: a changed copy of the runtime is hashed afresh
    changed = tmp_path / "changed"
    changed.mkdir()
    for path in RUNTIME_PACKAGE.glob("*.py"):
        (changed / path.name).write_text(path.read_text())
    (changed / "frames.py").write_text((changed / "frames.py").read_text() + "\n# changed\n")
    code = textwrap.dedent(
        f"""
        import kedro_mlflow_magic.build.shipped_code as staging
        from pathlib import Path
        staging.RUNTIME_PACKAGE = Path({str(changed)!r})
        print(staging.shipped_runtime_name())
        """
    )
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert other.startswith("kedro_mlflow_magic_runtime_") and other != name


def test_a_model_runs_the_runtime_it_ships(make_project) -> None:
    """Reloaded in the process that logged it (where kedro_mlflow_magic.runtime is imported),
    the model runs the copy inside its own folder."""
    project = load_project(make_project(NODES, PIPELINES, parameters="factor: 2.0\n"))
    info = log_pipeline_model(project.pipelines["score"], project.catalog, "rows", ROWS)
    folder = model_folder(info.model_uri)
    assert (folder / ENTRY_FILE).is_file()
    model = mlflow.pyfunc.load_model(info.model_uri)
    python_model = model.unwrap_python_model()
    module = sys.modules[type(python_model).__module__]
    assert module.__name__ == f"{shipped_runtime_name()}.model"
    assert Path(module.__file__).resolve() != (RUNTIME_PACKAGE / "model.py").resolve()
    assert type(python_model).__module__ != "kedro_mlflow_magic.runtime.model"
    pd.testing.assert_frame_equal(model.predict(ROWS), ROWS.assign(value=ROWS["value"] * 2.0))
    assert dict(python_model.artifacts) == {}


def test_the_artifacts_view_is_read_only(make_project) -> None:

    nodes = NODES + "\n\ndef weigh(rows, weights):\n    return rows * weights['w']\n"
    pipelines = 'return {"score": pipeline([node(nodes.weigh, ["rows", "weights"], "out")])}'
    catalog = "weights:\n  type: pickle.PickleDataset\n  filepath: data/weights.pkl\n"
    root = make_project(nodes, pipelines, catalog, pickles={"data/weights.pkl": {"w": 3.0}})
    project = load_project(root)
    info = log_pipeline_model(project.pipelines["score"], project.catalog, "rows", ROWS)
    python_model = mlflow.pyfunc.load_model(info.model_uri).unwrap_python_model()
    assert dict(python_model.artifacts) == {"weights": {"w": 3.0}}
    with pytest.raises(TypeError):
        python_model.artifacts["weights"] = {}  # type: ignore[index]


LEGACY_CHECK = """
import json, pickle, sys
import mlflow, pandas as pd
model = mlflow.pyfunc.load_model(sys.argv[1])
rows = pd.DataFrame({"a": [1.0, 4.0], "b": [0.25, 1.0]})
print(json.dumps({
    "module": type(model.unwrap_python_model()).__module__,
    "default": model.predict(rows).to_dict(orient="list"),
    "override": model.predict(rows, params={"threshold": 10.0}).to_dict(orient="list"),
}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("where", ["here", "fresh process"])
def test_a_model_of_the_previous_release_keeps_loading(where: str, tmp_path: Path) -> None:
    """A model logged by release 0.1.0 (its runtime one ``runtime.py`` file) loads and predicts
    with its parameters, beside today's package and in a fresh process."""
    weights = pickle.loads((LEGACY_MODEL / "artifacts" / "weights" / "weights.pkl").read_bytes())
    rows = pd.DataFrame({"a": [1.0, 4.0], "b": [0.25, 1.0]})
    total = rows["a"] * weights["a"] + rows["b"] * weights["b"]
    assert (LEGACY_MODEL / "runtime.py").is_file()
    if where == "here":
        model = mlflow.pyfunc.load_model(str(LEGACY_MODEL))
        assert type(model.unwrap_python_model()).__module__.startswith("code_model_")
        default = model.predict(rows).to_dict(orient="list")
        override = model.predict(rows, params={"threshold": 10.0}).to_dict(orient="list")
    else:
        script = tmp_path / "check.py"
        script.write_text(LEGACY_CHECK)
        answer = subprocess.run(
            [sys.executable, str(script), str(LEGACY_MODEL)],
            capture_output=True, text=True, check=True, cwd=tmp_path,
        )  # fmt: skip
        found = json.loads(answer.stdout.strip().splitlines()[-1])
        default, override = found["default"], found["override"]
    assert default == {"score": list(total), "high": list(total > 1.5)}
    assert override == {"score": list(total), "high": [False, False]}
    assert runtime.MANIFEST_FORMAT == 1  # the format these models carry
