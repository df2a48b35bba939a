"""Beside kedro-mlflow 2.x (docs/explanation/behaviour.md#beside-kedro-mlflow), with its hooks
active: in a virtual environment of its own (never the main test environment, where its hooks would
run in every KedroSession), built once and cached under a folder keyed by the dependency versions,
driven through a real Jupyter kernel running that environment's Python, in a notebook folder that is
not the project root.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from kedro_mlflow_env import KEDRO_MLFLOW_KERNEL
from kernels import cell_text, code_notebook, run_notebook
from sessions import tool_environment

pytestmark = pytest.mark.slow

KERNEL = KEDRO_MLFLOW_KERNEL


def kedro_mlflow_project(python: Path, parent: Path, tracking_uri: str) -> Path:
    """The demo project with ``kedro mlflow init``'s mlflow.yml (its tracking URI replaced),
    a PipelineML ``training_ml`` registered, trained once by ``kedro run`` (kedro-mlflow's hook
    logs that run), and a ``notebooks`` folder."""
    code = f"from kedro_mlflow_magic.demo import create_demo_project as c; c({str(parent / 'p')!r}, 'km_demo')"
    subprocess.run([str(python), "-c", code], check=True)
    root = parent / "p"
    kedro = [str(python), "-m", "kedro"]
    subprocess.run([*kedro, "mlflow", "init"], cwd=root, check=True, capture_output=True)
    mlflow_yml = root / "conf" / "local" / "mlflow.yml"
    text = mlflow_yml.read_text()
    assert "mlflow_tracking_uri: null" in text  # kedro-mlflow 2.x's default
    mlflow_yml.write_text(
        text.replace("mlflow_tracking_uri: null", f"mlflow_tracking_uri: {tracking_uri}")
    )
    registry = root / "src" / "km_demo" / "pipeline_registry.py"
    registry.write_text(
        registry.read_text().replace(
            '    return {"training": training,',
            "    from kedro_mlflow.pipeline import pipeline_ml_factory\n\n"
            "    training_ml = pipeline_ml_factory(training, inference, "
            'input_name="customers_to_score")\n'
            '    return {"training_ml": training_ml, "training": training,',
        )
    )
    catalog = root / "conf" / "base" / "catalog.yml"
    catalog.write_text(
        catalog.read_text() + "\ncustomers_to_score:\n  type: pandas.CSVDataset\n"
        "  filepath: data/01_raw/customers_to_score.csv\n"
    )
    subprocess.run(
        [*kedro, "run", "--pipeline", "training"], cwd=root, check=True, capture_output=True
    )
    subprocess.run(
        [str(python), "-c", "import pandas as pd; d = pd.read_csv('data/01_raw/customers.csv'); "
         "d.drop(columns=['churned']).head(40).to_csv('data/01_raw/customers_to_score.csv', index=False)"],
        cwd=root, check=True,
    )  # fmt: skip
    (root / "notebooks").mkdir()
    return root


def run_cells(python: Path, folder: Path, cells: list[str]) -> list[nbformat.NotebookNode]:
    """Run the cells on a kernel of the kedro-mlflow venv, in ``folder``; errors are kept as
    outputs (a cell's UsageError is what some tests look for)."""
    notebook = code_notebook(textwrap.dedent(cell) for cell in cells)
    environment = {"JUPYTER_PATH": str(python.parent.parent / "share" / "jupyter")}
    run_notebook(
        notebook, folder, kernel_name=KERNEL, environment=environment, allow_errors=True,
        timeout=300,
    )  # fmt: skip
    return notebook.cells


def text_of(cell: nbformat.NotebookNode) -> str:
    """What the cell showed, streams joined as Jupyter shows them, errors with their traceback,
    without colour codes."""
    return cell_text(cell, tracebacks=True, ansi=False)


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    """Outside pytest's temporary folders: the models kedro-mlflow logs pickle a catalog, which
    the suite's check of every model we log would (rightly) flag."""
    folder = Path(tempfile.mkdtemp(prefix="kedro-mlflow-beside-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


NOTEBOOK = [
    # 0: inside the project folder, the extension loads it (kedro-mlflow's hook starts too)
    "%load_ext kedro_mlflow_magic",
    # 1
    """\
    import mlflow, os
    print("URI", mlflow.get_tracking_uri())
    sample = catalog.load("customers").drop(columns=["churned"]).head(30)
    session.run(pipeline_name="training")
    training_run = mlflow.last_active_run().info.run_id
    print("TRAINING", training_run, mlflow.get_run(training_run).info.status)
    """,
    # 2: the finished training run is left on MLflow's stack by kedro-mlflow? a new run anyway
    "first = %kedro_log_model inference --input customers_to_score --sample sample --run-name fresh",
    # 3
    """\
    client = mlflow.MlflowClient()
    params = client.get_run(first.run_id).data.params
    print("PARAMS", sorted(params))
    print("RUN", first.run_id, client.get_run(first.run_id).info.run_name)
    print(first)
    """,
    # 4
    "second = %kedro_log_model inference --input customers_to_score --sample sample --run-id {training_run}",
    # 5
    "print('SECOND', second.run_id)\nprint(second)",
    # 6
    "%kedro_inputs training_ml",
    # 7
    "ml = %kedro_log_model training_ml --sample sample\nprint(ml)",
    # 8: the store with the runs of `kedro run`, of session.run and of our logs
    """\
    experiment = mlflow.get_experiment_by_name("km_demo")
    runs = mlflow.search_runs([experiment.experiment_id], output_format="list")
    print("RUNS", len(runs), sorted(run.info.run_name for run in runs))
    """,
    # 9: --experiment: created the way kedro-mlflow would, in the project's mlruns folder
    """\
    other = %kedro_log_model inference --input customers_to_score --sample sample --experiment other
    print("LOCATION", mlflow.get_experiment_by_name("other").artifact_location)
    """,
    # 10: a model kedro-mlflow logged (`kedro mlflow modelify`'s way); kedro-mlflow left its
    # finished training run on MLflow's stack, which start_run would refuse
    """\
    while mlflow.active_run():
        mlflow.end_run()
    import tempfile
    from pathlib import Path
    from kedro_mlflow.mlflow import KedroPipelineModel
    with tempfile.TemporaryDirectory() as folder:
        theirs = KedroPipelineModel(pipeline=pipelines["inference"], catalog=catalog,
                                    input_name="customers_to_score")
        artifacts = theirs.extract_pipeline_artifacts(Path(folder))
        with mlflow.start_run(run_name="modelify"):
            their_info = mlflow.pyfunc.log_model(name="theirs", python_model=theirs,
                                                 artifacts=artifacts, pip_requirements=["kedro"])
    their_uri = their_info.model_uri
    """,
    # 11
    "predicted = %kedro_predict {their_uri} --data sample.head(5)\nprint('ROWS', len(predicted))",
    # 12
    "%kedro_predict {their_uri} --data sample.head(5) --compare",
    # 13: kedro-mlflow 2.x's default mlflow.yml (null: ./mlruns) under MLflow 3
    """\
    from pathlib import Path
    yml = Path(context.project_path) / "conf" / "local" / "mlflow.yml"
    yml.write_text(yml.read_text().replace("sqlite:///mlruns.db", "null"))
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    while mlflow.active_run():  # kedro-mlflow skips mlflow.yml while a run is on the stack
        mlflow.end_run()
    """,
    # 14
    "%reload_kedro ..",
]


@pytest.fixture(scope="module")
def executed(kedro_mlflow_python: Path, workspace: Path) -> tuple[Path, list]:
    root = kedro_mlflow_project(kedro_mlflow_python, workspace, "sqlite:///mlruns.db")
    cells = run_cells(kedro_mlflow_python, root / "notebooks", NOTEBOOK)
    return root, cells


def test_a_relative_sqlite_uri_is_one_store_at_the_project_root(executed):
    root, cells = executed
    assert f"URI sqlite:///{root.as_posix()}/mlruns.db" in text_of(cells[1])
    assert (root / "mlruns.db").is_file()
    assert not (root / "notebooks" / "mlruns.db").exists()
    # `kedro run` (project root), session.run and our logs (notebook folder): one store
    runs = re.search(r"RUNS (\d+) (.*)", text_of(cells[8]))
    assert runs, text_of(cells[8])
    assert int(runs.group(1)) >= 4
    assert runs.group(2).count("'training'") == 2  # kedro run + session.run, both there


def test_a_log_after_training_goes_into_a_new_named_run(executed):
    _, cells = executed
    training = re.search(r"TRAINING (\w+) (\w+)", text_of(cells[1]))
    assert training and training.group(2) == "FINISHED"
    summary = text_of(cells[3])
    run = re.search(r"RUN (\w+) (\S+)", text_of(cells[3]))
    assert run and run.group(2) == "fresh"
    assert run.group(1) != training.group(1)
    assert f"{run.group(1)} (a new run" in summary
    assert "Failed to log model config" not in summary
    # the manifest is one namespaced param, nothing else of ours
    params = text_of(cells[3])
    assert re.search(r"PARAMS \['[\w.]+'\]", params), params


def test_run_id_logs_into_the_training_run(executed):
    _, cells = executed
    training = re.search(r"TRAINING (\w+)", text_of(cells[1])).group(1)
    assert f"SECOND {training}" in text_of(cells[5])
    assert f"{training} (the run asked for)" in text_of(cells[5])


def test_a_pipeline_ml_brings_its_inference_pipeline_and_input_name(executed):
    _, cells = executed
    roles = text_of(cells[6])
    assert "kedro-mlflow PipelineML" in roles and "'customers_to_score'" in roles
    assert "customers_to_score  data input" in roles
    assert "generate_customers" not in roles and "n_customers" not in roles  # training's
    logged = text_of(cells[7])
    assert "note" in logged and "kedro-mlflow PipelineML" in logged
    assert "Error" not in logged


def test_new_experiments_follow_kedro_mlflow(executed):
    root, cells = executed
    location = text_of(cells[9])
    assert f"LOCATION {(root / 'mlruns').as_uri()}/other" in location


def test_a_kedro_mlflow_model_predicts_and_compare_says_why_not(executed):
    _, cells = executed
    assert "ROWS 5" in text_of(cells[11]), text_of(cells[11])
    compared = text_of(cells[12])
    assert "UsageError" in compared and "was not logged by kedro_mlflow_magic" in compared
    assert "KeyError" not in compared and "Traceback" not in compared


def test_the_file_store_refusal_is_one_line_with_the_fix(executed):
    root, cells = executed
    refused = text_of(cells[14])
    assert "UsageError" in refused, refused
    assert "conf/local/mlflow.yml" in refused
    assert f"server.mlflow_tracking_uri: sqlite:///{root.as_posix()}/mlruns.db" in refused
    assert "MLFLOW_ALLOW_FILE_STORE=true" in refused
    assert "Traceback" not in refused and "MlflowException" not in refused


# Our display and nothing else: no line of Kedro's or MLflow's logging (rich's "INFO     ..." or
# MLflow's "2026/01/01 10:00:00 INFO mlflow.pyfunc: ...") in a magic's cell
# (docs/explanation/behaviour.md#the-magics)
THIRD_PARTY_LINE = re.compile(
    r"^\s*(\[[\d/: ]+\]\s*)?(DEBUG|INFO|WARNING|ERROR)\s{2,}|\d{4}/\d\d/\d\d [\d:]+ [A-Z]+ \w",
    re.MULTILINE,
)


def test_a_magic_cell_shows_no_third_party_line(executed):
    _, cells = executed
    for index in (2, 4, 7, 9, 11):
        shown = text_of(cells[index])
        assert "model URI" in shown or "ROWS" in shown, shown
        assert not THIRD_PARTY_LINE.search(shown), f"cell {index}:\n{shown}"
        assert "Validating input example" not in shown
    for index in (2, 4):  # the magic alone: no stream output at all
        assert [o for o in cells[index]["outputs"] if o["output_type"] == "stream"] == []


HOOK_SETTINGS = """

from kedro_mlflow_magic.hooks import LogModelHook

HOOKS = (LogModelHook(after="training", pipeline="inference", data_input="customers_to_score"),)
"""


def test_log_model_hook_logs_into_the_training_run_kedro_mlflow_opened(
    executed, kedro_mlflow_python: Path
) -> None:
    """``kedro run --pipelines training`` with kedro-mlflow active and our hook in settings.py:
    the model lands in kedro-mlflow's run of the training, which ends FINISHED."""
    import mlflow

    from kedro_mlflow_magic.prepared import PARITY_TAG

    root, _ = executed
    store = f"sqlite:///{(root / 'hooked.db').as_posix()}"
    mlflow_yml = root / "conf" / "local" / "mlflow.yml"  # the notebook's last cells nulled it
    mlflow_yml.write_text(
        re.sub(r"mlflow_tracking_uri: .*", f"mlflow_tracking_uri: {store}", mlflow_yml.read_text())
    )
    settings = root / "src" / "km_demo" / "settings.py"
    settings.write_text(settings.read_text() + HOOK_SETTINGS)
    environment = tool_environment(
        drop=("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_"), our_tools=False
    )
    finished = subprocess.run(
        [str(kedro_mlflow_python), "-m", "kedro", "run", "--pipelines", "training"],
        cwd=root, env=environment, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    output = finished.stdout + finished.stderr
    assert finished.returncode == 0, output[-3000:]
    assert "Logged pipeline 'inference' after the run of 'training'" in output, output[-3000:]
    assert "(the active run)" in output, output[output.find("Logged pipeline") - 200 :]

    client = mlflow.MlflowClient(tracking_uri=store)
    experiment = client.get_experiment_by_name("km_demo")
    (model,) = client.search_logged_models([experiment.experiment_id])
    run = client.get_run(model.source_run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_id in output
    assert {"n_customers", "seed"} <= set(run.data.params)  # kedro-mlflow's, of the training
    assert "kedro_mlflow_magic" in run.data.params  # ours: the model's manifest
    assert run.data.tags.get(PARITY_TAG, "").startswith("all ")
    assert (root / "hooked.db").is_file() and not (root / "mlruns").joinpath("hooked.db").exists()
