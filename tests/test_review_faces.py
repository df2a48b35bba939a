"""The review's faces as users meet them: ``kedro-mlflow-magic diff`` / ``promote`` and their
exit codes (subprocesses), ``%kedro_diff`` / ``%kedro_promote`` on a real kernel, and
``LogModelHook(promote_to=...)`` in a real ``kedro run``."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import nbformat
import pytest
from kernels import THIRD_PARTY_NOISE, cell_starting, cell_text, empty_outputs, run_notebook
from review_models import ReviewModels, customers, log_review_models, write_review_project
from sessions import tool_environment

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory, mlflow_store: str) -> ReviewModels:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_store)
        return log_review_models(tmp_path_factory.mktemp("faces"))


def run(command: list[str], cwd: Path, store: str, **environment: str):
    env = tool_environment(store, **environment)
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )  # fmt: skip


def script(*arguments: str, cwd: Path, store: str):
    """``kedro-mlflow-magic ...``: the console script, outside any project."""
    return run([str(BIN / "kedro-mlflow-magic"), *arguments], cwd, store)


def alias_holder(store: str, name: str, alias: str) -> int | None:
    import mlflow

    held = mlflow.MlflowClient(store).get_registered_model(name).aliases.get(alias)
    return None if held is None else int(held)


@pytest.mark.slow
def test_shell_diff_exits_0_when_nothing_breaks_and_1_when_something_does(
    models: ReviewModels, mlflow_store: str, tmp_path: Path
):
    calm = script("diff", models.uri(1), models.uri(2), cwd=tmp_path, store=mlflow_store)
    assert calm.returncode == 0, calm.stderr[-3000:]
    assert "threshold: default 0.5 -> 0.6" in calm.stdout
    assert calm.stdout.startswith("review               nothing breaking; answers agree")

    breaking = script("diff", models.uri(3), models.uri(4), cwd=tmp_path, store=mlflow_store)
    assert breaking.returncode == 1, breaking.stderr[-3000:]
    assert "input column 'region': added, required (string) (breaking)" in breaking.stdout
    assert breaking.stderr == ""

    data = tmp_path / "customers.csv"
    customers(region=True).to_csv(data, index=False)
    on_data = script(
        "diff", models.uri(3), models.uri(4), "--data", str(data), cwd=tmp_path, store=mlflow_store
    )
    assert on_data.returncode == 1
    assert "answers compared on  the data given" in on_data.stdout

    unknown = script(
        "diff", "models:/no-such-model/1", models.uri(1), cwd=tmp_path, store=mlflow_store
    )
    assert unknown.returncode == 2
    (line,) = unknown.stderr.strip().splitlines()
    assert line.startswith("Error: cannot read the model 'models:/no-such-model/1'")


@pytest.mark.slow
def test_shell_promote_refuses_with_exit_1_and_forces(
    models: ReviewModels, mlflow_store: str, tmp_path: Path
):
    first = script("promote", models.uri(3), "--alias", "shell", cwd=tmp_path, store=mlflow_store)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "'shell' set on version 3: no version held it" in first.stdout

    refused = script("promote", models.uri(4), "--alias", "shell", cwd=tmp_path, store=mlflow_store)
    assert refused.returncode == 1
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith(f"Error: 'shell' stays on {models.uri(3)}: {models.uri(4)} was not")
    assert "input column 'region': added, required (string) (breaking)" in line
    assert "review               BREAKING" in refused.stdout  # the review, on stdout
    assert alias_holder(mlflow_store, models.name, "shell") == 3

    forced = script(
        "promote", models.uri(4), "--alias", "shell", "--force", cwd=tmp_path, store=mlflow_store
    )
    assert forced.returncode == 0, forced.stderr[-3000:]
    assert "'shell' moved from version 3 to version 4, forced" in forced.stdout
    assert alias_holder(mlflow_store, models.name, "shell") == 4


@pytest.mark.slow
def test_the_magics_in_a_real_kernel(models: ReviewModels, mlflow_store: str, tmp_path: Path):
    frame = customers(region=True).to_dict(orient="list")
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(source)
            for source in (
                "%load_ext kedro_mlflow_magic",
                f"import pandas as pd\nframe = pd.DataFrame({frame!r})",
                f"%kedro_diff {models.uri(1)} {models.uri(2)}",
                f"diff = %kedro_diff {models.uri(3)} {models.uri(4)} --data frame\n"
                "print('BREAKING', diff.breaking)",
                f"%kedro_promote {models.uri(1)} --alias notebook",
                f"%kedro_promote {models.uri(3)} --alias notebook",
                f"%kedro_promote {models.uri(3)} --alias notebook --force",
            )
        ]
    )
    run_notebook(
        notebook, tmp_path, environment={"MLFLOW_TRACKING_URI": mlflow_store}, allow_errors=True
    )
    calm = cell_text(cell_starting(notebook, "%kedro_diff"), html=True, ansi=False)
    assert calm.startswith('<table class="kedro-mlflow-summary"')  # nothing before our display
    assert "threshold: default 0.5 -&gt; 0.6" in calm  # the HTML table
    assert "threshold: default 0.5 -> 0.6" in calm  # and its text
    assert "BREAKING True" in cell_text(cell_starting(notebook, "diff = %kedro_diff"), ansi=False)
    refused = cell_text(notebook.cells[5], ansi=False)
    assert refused.startswith(f"UsageError: 'notebook' stays on {models.uri(1)}: ")
    assert "their answers differ" in refused and "\n" not in refused.strip()
    forced = cell_text(notebook.cells[6], ansi=False)
    assert "'notebook' moved from version 1 to version 3, forced" in forced
    assert alias_holder(mlflow_store, models.name, "notebook") == 3
    for cell in notebook.cells[2:]:
        assert not THIRD_PARTY_NOISE.search(cell_text(cell)), cell_text(cell)
        assert not empty_outputs(cell), cell.source


HOOK_SETTINGS = """
from kedro_mlflow_magic.hooks import LogModelHook

HOOKS = (
    LogModelHook(after="training", pipeline="inference", data_input="customers",
                 sample="customers_sample", registered_model_name={name!r},
                 promote_to="champion"),
)
"""

SAMPLE_CATALOG = """
customers_sample:
  type: pandas.CSVDataset
  filepath: data/01_raw/customers.csv
"""


@pytest.mark.slow
def test_the_hook_promotes_what_it_logged_through_the_review(tmp_path: Path):
    import mlflow

    package = f"hooked_{uuid.uuid4().hex[:8]}"
    root = write_review_project(tmp_path / package, package)
    name = f"hooked-{uuid.uuid4().hex[:8]}"
    (root / "src" / package / "settings.py").write_text(HOOK_SETTINGS.format(name=name))
    catalog = root / "conf" / "base" / "catalog.yml"
    catalog.write_text(catalog.read_text() + SAMPLE_CATALOG)
    (root / "data" / "01_raw").mkdir(parents=True)
    customers().to_csv(root / "data" / "01_raw" / "customers.csv", index=False)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    kedro_run = [str(BIN / "kedro"), "run", "--pipelines", "training"]

    first = run(kedro_run, root, store)
    assert first.returncode == 0, first.stderr[-3000:] + first.stdout[-3000:]
    assert alias_holder(store, name, "champion") == 1
    assert "'champion' set on version 1: no version held it" in first.stdout + first.stderr

    # retrained with other weights: other answers, so the alias stays and the run fails
    retrained = run([*kedro_run, "--params", "weights.tenure=0.05"], root, store)
    assert retrained.returncode != 0
    output = retrained.stdout + retrained.stderr
    assert (
        f"logged pipeline 'inference' but did not promote it: 'champion' stays on "
        f"models:/{name}/1: models:/{name}/2 was not promoted, their answers differ"
    ) in output, output[-3000:]
    assert alias_holder(store, name, "champion") == 1
    assert mlflow.MlflowClient(store).get_model_version(name, "2").status == "READY"


def test_the_magics_are_registered_and_offered_to_kedro(ipython_shell):
    from importlib.metadata import entry_points

    import kedro_mlflow_magic.magics as magics

    ipython_shell.run_line_magic("load_ext", "kedro_mlflow_magic")
    points = {point.name: point for point in entry_points(group="kedro.line_magic")}
    for name in ("kedro_diff", "kedro_promote"):
        assert name in ipython_shell.magics_manager.magics["line"]
        assert points[name].load() is getattr(magics, name)


def test_promote_to_needs_a_registered_model_name_and_says_so():
    from kedro_mlflow_magic.errors import HookOptionError
    from kedro_mlflow_magic.hooks import LogModelHook

    hook = LogModelHook(after="training", pipeline="inference", promote_to="champion")
    # checked with the hook's other options: one line naming where it was set
    with pytest.raises(
        HookOptionError, match=r"^settings.py: the alias 'champion' needs a registered model"
    ):
        hook.log_options()
