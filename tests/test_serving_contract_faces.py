"""The serving contract on every face: ``%kedro_signature`` (columns not read shown optional, any
of them made required again), ``%kedro_predict`` and the shell's ``predict`` (a note for a model
whose rows depend on each other, given fewer rows), the shell's ``log`` and ``LogModelHook``
(the same notes as the magic's summary), a model served by ``mlflow models serve``, and the
parameters shown compactly with their notes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import requests
from contract_projects import SCORE_AND_TREND_NODES, customers, sales
from projects import write_project
from servers import clean_environment, model_server, running_server
from sessions import load_project, tool_environment

from kedro_mlflow_magic import prepare_pipeline

BIN = Path(sys.executable).parent

NODES = (
    SCORE_AND_TREND_NODES
    + """

def settled(frame, settings, image_path, db_uri):
    # image_path and db_uri are read (their length), as a node would open them
    offset = sum(settings.values()) + len(image_path) + len(db_uri)
    return (frame["x"] + offset).rename("settled")
"""
)

PIPELINES = """\
score = pipeline([node(nodes.score, ["customers", "params:weights"], "scores", name="score")])
trend = pipeline([node(nodes.rolling_trend, "sales", "forecast", name="rolling_trend")])
settled = pipeline([node(
    nodes.settled,
    ["frame", "params:settings", "params:image_path", "params:db_uri"], "settled", name="settled",
)])
return {"score": score, "trend": trend, "settled": settled, "__default__": score}
"""

SETTINGS = "\n".join(f"  p{index:02d}: {index}" for index in range(1, 13))
PASSWORD = "s3cr3t-pw-123"
PARAMETERS = f"""\
weights:
  tenure: 0.5
  charges: 0.25
settings:
{SETTINGS}
image_path: /home/ana/projects/churn/images
db_uri: "postgresql://reader:{PASSWORD}@db.example.com/sales"
"""

CATALOG = """\
customers:
  type: pandas.CSVDataset
  filepath: data/01_raw/customers.csv
sales:
  type: pandas.CSVDataset
  filepath: data/01_raw/sales.csv
"""


@pytest.fixture(scope="module")
def contract_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with a label in its customers, a rolling window, and many parameters."""
    root = tmp_path_factory.mktemp("contract") / "contract_project"
    write_project(root, NODES, PIPELINES, CATALOG, parameters=PARAMETERS)
    (root / "data" / "01_raw").mkdir(parents=True)
    customers().to_csv(root / "data" / "01_raw" / "customers.csv", index=False)
    sales().to_csv(root / "data" / "01_raw" / "sales.csv", index=False)
    return root


@pytest.fixture(scope="module")
def contract_project(contract_root: Path):
    return load_project(contract_root)


def column_flags(editor) -> dict[str, bool]:
    return {field.column: field.required.value for field in editor._columns}


def test_the_signature_editor_shows_columns_not_read_as_optional_and_any_can_be_required(
    project_notebook, contract_project
):
    shell = project_notebook(contract_project, sample=customers())
    editor = shell.run_line_magic("kedro_signature", "score --input customers --sample sample")
    assert column_flags(editor) == {
        "customer_id": True, "tenure": True, "charges": True, "churned": False,
    }  # fmt: skip
    next(field for field in editor._columns if field.column == "churned").required.value = True
    editor._log_button.click()

    assert editor.error is None
    uri = editor.model_info.model_uri
    inputs = mlflow.models.get_model_info(uri).signature.inputs
    assert inputs.optional_input_names() == []  # the user's choice wins
    example = json.loads(
        (Path(mlflow.artifacts.download_artifacts(uri)) / "input_example.json").read_text()
    )
    assert "churned" in example["columns"]  # required again: back in the example


def test_predict_notes_a_batch_dependent_model_given_fewer_rows(
    project_notebook, contract_project, capsys
):
    logged = prepare_pipeline(
        contract_project.pipelines["trend"], contract_project.catalog, "sales", sales()
    ).log()
    shell = project_notebook(contract_project, few=sales().head(2), every=sales())
    uri = logged.model_info.model_uri
    capsys.readouterr()
    shell.run_line_magic("kedro_predict", f"{uri} --data few")
    shown = capsys.readouterr().out
    assert "note: this model's answer for a row depends on the other rows of its batch" in shown
    assert "on 30 rows" in shown and "these 2 rows" in shown
    shell.run_line_magic("kedro_predict", f"{uri} --data every")
    assert "depends on the other rows" not in capsys.readouterr().out


def test_parameters_are_shown_compactly_with_notes_and_no_credential(contract_project):
    prepared = prepare_pipeline(
        contract_project.pipelines["settled"], contract_project.catalog, "frame",
        pd.DataFrame({"x": [1.0, 2.0, 3.0]}),
    )  # fmt: skip
    logged = prepared.log()
    text, html = str(logged), logged.summary_html()
    uri = logged.model_info.model_uri
    assert PASSWORD not in text and PASSWORD not in html
    assert "'settings.p01'" not in text  # no parameter line by line
    shown = f"14 parameters; all of them: mlflow.models.get_model_info('{uri}').signature.params"
    assert shown in text
    assert len(mlflow.models.get_model_info(uri).signature.params.params) == 14  # it works
    assert "parameter 'db_uri' holds a credential in its default" in text
    assert "postgresql://reader:***@db.example.com/sales" in text
    assert "parameter 'image_path' defaults to an absolute path on this machine" in text

    # the fix the note gives works: the path given per call
    model = mlflow.pyfunc.load_model(uri)
    frame = pd.DataFrame({"x": [1.0]})
    default = model.predict(frame)["settled"].iloc[0]
    given = model.predict(frame, params={"image_path": "images"})["settled"].iloc[0]
    assert default - given == len("/home/ana/projects/churn/images") - len("images")


# --- a real server, the shell command, a kedro run -----------------------------------------------


def shell_command(*arguments: str, cwd: Path, store: str) -> subprocess.CompletedProcess:
    env = tool_environment(store)
    return subprocess.run(
        [str(BIN / "kedro-mlflow-magic"), *arguments],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def split_body(frame: pd.DataFrame) -> str:
    return json.dumps({"dataframe_split": json.loads(frame.to_json(orient="split"))})


@pytest.mark.slow
def test_a_served_model_answers_without_the_label_and_with_an_extra_column(
    contract_project, mlflow_store: str, tmp_path: Path
):
    logged = prepare_pipeline(
        contract_project.pipelines["score"], contract_project.catalog, "customers", customers()
    ).log()
    uri = logged.model_info.model_uri
    expected = mlflow.pyfunc.load_model(uri).predict(customers())
    with running_server(
        model_server(uri), "/ping", tmp_path / "server.log", cwd=tmp_path,
        env=clean_environment(mlflow_store),
    ) as server:  # fmt: skip
        for frame in (customers().drop(columns=["churned"]), customers().assign(region="north")):
            response = requests.post(
                f"{server.url}/invocations", data=split_body(frame),
                headers={"Content-Type": "application/json"}, timeout=60,
            )  # fmt: skip
            assert response.status_code == 200, response.text
            served = pd.DataFrame(response.json()["predictions"])
            pd.testing.assert_frame_equal(served, expected, check_dtype=False)


@pytest.mark.slow
def test_the_shell_log_prints_the_notes_and_predict_notes_fewer_rows(
    contract_root: Path, tmp_path: Path
):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    logged = shell_command("log", "score", "--input", "customers", cwd=contract_root, store=store)
    assert logged.returncode == 0, logged.stderr[-3000:]
    assert "not read by the pipeline: churned" in logged.stdout

    trend = shell_command("log", "trend", "--input", "sales", cwd=contract_root, store=store)
    assert trend.returncode == 0, trend.stderr[-3000:]
    assert "a row's prediction depends on the other rows of the batch" in trend.stdout
    uri = next(
        line.split()[-1] for line in trend.stdout.splitlines() if line.startswith("model URI")
    )
    few = tmp_path / "few.csv"
    sales().head(3).to_csv(few, index=False)
    predicted = shell_command("predict", uri, "--data", str(few), cwd=contract_root, store=store)
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    assert len(pd.read_csv(pd.io.common.StringIO(predicted.stdout))) == 3  # stdout: the CSV
    assert "these 3 rows may be answered otherwise" in predicted.stderr


HOOK_SETTINGS = """
from kedro_mlflow_magic.hooks import LogModelHook

HOOKS = (
    LogModelHook(after="training", pipeline="inference", data_input="customers_to_score",
                 sample="customers"),
)
"""


@pytest.mark.slow
def test_the_hook_prints_the_same_notes(tmp_path: Path):
    from kedro_mlflow_magic.demo import create_demo_project

    root = create_demo_project(tmp_path / "project", "churn_contract")
    (root / "src" / "churn_contract" / "settings.py").write_text(HOOK_SETTINGS)
    env = tool_environment(f"sqlite:///{tmp_path / 'mlflow.db'}")
    finished = subprocess.run(
        [str(BIN / "kedro"), "run", "--pipelines", "training"],
        cwd=root, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    output = finished.stdout + finished.stderr
    assert finished.returncode == 0, output[-3000:]
    assert "Note: not read by the pipeline: churned" in " ".join(output.split())
