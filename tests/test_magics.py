"""The magics (docs/explanation/behaviour.md#the-magics), driven through a real IPython shell with
the trained demo project loaded by Kedro's own ``%reload_kedro``; models logged into the shared
sqlite store."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from IPython.core.error import UsageError
from projects import write_chain_project

from kedro_mlflow_magic.display.checks import ComparisonView
from kedro_mlflow_magic.display.log_summary import LoggingProgress
from kedro_mlflow_magic.errors import one_line
from kedro_mlflow_magic.inspect.mermaid import picture_bundle
from kedro_mlflow_magic.magics.common import frame_from, unquoted
from kedro_mlflow_magic.tracking import prediction
from kedro_mlflow_magic.verify.parity import compare_results

KEDRO_NAMES = ("session", "context", "catalog", "pipelines")
REGISTERED = "magic_churn"


@pytest.fixture(scope="module")
def ipython(ipython_shell):
    """The test IPython shell with our extension loaded."""
    shell = ipython_shell
    shell.run_line_magic("load_ext", "kedro_mlflow_magic")
    return shell


@pytest.fixture
def bare_shell(ipython):
    """The shell with no Kedro project loaded (as in a fresh notebook)."""
    saved = {name: ipython.user_ns.pop(name) for name in KEDRO_NAMES if name in ipython.user_ns}
    yield ipython
    ipython.user_ns.update(saved)


@pytest.fixture(scope="module")
def demo_variables(ipython, trained_demo: Path) -> dict:
    """What ``%reload_kedro <demo>`` put in the notebook (loaded once for the module)."""
    ipython.run_line_magic("reload_kedro", str(trained_demo))
    return {name: ipython.user_ns[name] for name in KEDRO_NAMES}


@pytest.fixture
def shell(ipython, demo_variables):
    """The shell with the trained demo loaded and a ``sample`` frame of customers."""
    ipython.user_ns.update(demo_variables)
    customers = demo_variables["catalog"].load("customers")
    ipython.user_ns["sample"] = customers.drop(columns=["churned"]).head(20)
    return ipython


@pytest.fixture(scope="module")
def logged(ipython, demo_variables, mlflow_store: str, tmp_path_factory):
    """One model logged by ``%kedro_log_model`` (registered, aliased, in its own experiment)
    into the shared store, with the text it displayed."""
    import mlflow

    ipython.user_ns.update(demo_variables)
    customers = demo_variables["catalog"].load("customers")
    ipython.user_ns["sample"] = customers.drop(columns=["churned"]).head(20)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_store)
        capture = tmp_path_factory.mktemp("display") / "out.txt"
        with open(capture, "w") as stream, contextlib.redirect_stdout(stream):
            info = ipython.run_line_magic(
                "kedro_log_model",
                f"inference --input customers_to_score --sample sample --name churn "
                f"--experiment magic-tests --register {REGISTERED} --alias champion "
                "--example-rows 4",
            )
        run = mlflow.MlflowClient().get_run(info.run_id)
        experiment = mlflow.MlflowClient().get_experiment(run.info.experiment_id)
    return info, capture.read_text(), experiment.name


# --- %load_ext and the entry points ------------------------------------------------------------


LOAD_EXT_SCRIPT = """
import json, sys, time
from IPython.testing.globalipapp import get_ipython
shell = get_ipython()
before = set(sys.modules)
started = time.perf_counter()
shell.run_line_magic("load_ext", "kedro_mlflow_magic")
seconds = time.perf_counter() - started
print(json.dumps({
    "mlflow_imported": "mlflow" in sys.modules,
    "heavy_imported": sorted({"mlflow", "kedro", "pandas", "numpy"} & (set(sys.modules) - before)),
    "line": sorted(shell.magics_manager.magics["line"]),
    "cell": sorted(shell.magics_manager.magics["cell"]),
    "session_loaded": "session" in shell.user_ns,
    "seconds": seconds,
}))
"""


def run_python(script: str, cwd: Path) -> dict:
    environment = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true"}
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, env=environment, capture_output=True,
        text=True, timeout=120, check=True,
    )  # fmt: skip
    *printed, last = completed.stdout.strip().splitlines()
    return {**json.loads(last), "printed": printed}


@pytest.mark.slow
def test_load_ext_outside_a_project_registers_magics_without_importing_mlflow(tmp_path):
    result = run_python(LOAD_EXT_SCRIPT, cwd=tmp_path)
    print(f"%load_ext kedro_mlflow_magic took {result['seconds']:.3f} s")
    assert result["mlflow_imported"] is False
    # nor Kedro, pandas or numpy: outside a project, %load_ext imports only our magics
    assert result["heavy_imported"] == []
    assert {"kedro_inputs", "kedro_log_model", "kedro_predict", "reload_kedro", "load_node"} <= set(
        result["line"]
    )
    assert "kedro_predict" in result["cell"]
    assert result["session_loaded"] is False


@pytest.mark.slow
def test_load_ext_inside_a_project_loads_it_as_kedro_does(trained_demo):
    result = run_python(LOAD_EXT_SCRIPT, cwd=trained_demo)
    assert result["session_loaded"] is True
    assert {"kedro_inputs", "reload_kedro", "load_node"} <= set(result["line"])
    # one line of ours instead of Kedro's log lines and its dependencies' deprecation warnings
    assert result["printed"] == [
        f"Loaded the Kedro project in {trained_demo}: session, context, catalog and pipelines "
        "are defined"
    ]


@pytest.mark.slow
def test_reload_kedro_alone_offers_the_magics_through_entry_points(trained_demo, tmp_path):
    script = f"""
import json
from IPython.testing.globalipapp import get_ipython
shell = get_ipython()
shell.run_line_magic("load_ext", "kedro.ipython")
shell.run_line_magic("reload_kedro", {str(trained_demo)!r})
roles = shell.run_line_magic("kedro_inputs", "inference")
print(json.dumps({{"line": sorted(shell.magics_manager.magics["line"]),
                   "data_input": roles.data_input}}))
"""
    result = run_python(script, cwd=tmp_path)
    assert {"kedro_inputs", "kedro_log_model", "kedro_predict"} <= set(result["line"])
    assert result["data_input"] == "customers_to_score"


def test_entry_points_name_the_magic_functions():
    from importlib.metadata import entry_points

    import kedro_mlflow_magic.magics as magics

    points = {point.name: point for point in entry_points(group="kedro.line_magic")}
    for name in ("kedro_inputs", "kedro_log_model", "kedro_predict"):
        function = points[name].load()
        # Kedro registers each entry point under the function's own name.
        assert function.__name__ == name
        assert function is getattr(magics, name)


def test_stand_in_reload_kedro_hands_over_to_kedros_magic(
    bare_shell, trained_demo, tmp_path, monkeypatch
):
    from kedro.ipython import magic_reload_kedro

    from kedro_mlflow_magic.magics import load_kedro_extension

    monkeypatch.chdir(tmp_path)
    load_kedro_extension(bare_shell)
    assert bare_shell.magics_manager.magics["line"]["reload_kedro"] is not magic_reload_kedro
    bare_shell.run_line_magic("reload_kedro", str(trained_demo))
    # Kedro's own magic from then on, wrapped to explain kedro-mlflow's file-store refusal
    handed_over = bare_shell.magics_manager.magics["line"]["reload_kedro"]
    assert handed_over.__wrapped__ is magic_reload_kedro
    assert Path(bare_shell.user_ns["context"].project_path) == trained_demo


def test_help_lists_the_arguments(ipython, capsys):
    ipython.run_line_magic("pinfo", "%kedro_log_model")
    text = capsys.readouterr().out
    for option in ("--sample", "--experiment", "--register", "--signature", "--example-rows"):
        assert option in text


# --- mistakes are one-line UsageErrors ----------------------------------------------------------


@pytest.mark.parametrize(
    "magic, line",
    [
        ("kedro_inputs", "inference"),
        ("kedro_log_model", "inference --input customers_to_score --sample df"),
        ("kedro_predict", "--data df --compare"),
    ],
)
def test_without_a_session_the_magics_say_to_run_reload_kedro(bare_shell, magic, line):
    with pytest.raises(UsageError, match=r"run %reload_kedro <project path>"):
        bare_shell.run_line_magic(magic, line)


def test_a_usage_error_reaches_the_user_as_one_line(shell, capsys):
    result = shell.run_cell("%kedro_inputs nowhere")
    assert isinstance(result.error_in_exec, UsageError)
    shown = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert shown == [
        "UsageError: unknown pipeline 'nowhere'; the project's pipelines are: "
        "__default__, inference, training"
    ]


@pytest.mark.parametrize(
    "magic, line, message",
    [
        ("kedro_inputs", "nowhere", r"unknown pipeline 'nowhere'; .*: __default__, inference"),
        ("kedro_log_model", "infer --input x", r"unknown pipeline 'infer'; .*training"),
        ("kedro_inputs", "inference --input customer", r"'customer' is not a free input.*"
         r"among: classifier, customers_to_score, encoder"),
        ("kedro_log_model", "inference --input customer --sample sample",
         r"'customer' is not a free input"),
        ("kedro_log_model", "inference --input customers_to_score --sample 'sample.nope'",
         r"--sample 'sample.nope' failed: AttributeError: .*nope"),
        ("kedro_log_model", "inference --input customers_to_score --sample '[1, 2]'",
         r"--sample '\[1, 2\]' is a list; give a pandas, Spark or polars"),
        ("kedro_log_model", "inference --input customers_to_score",
         r"no sample given and the data input 'customers_to_score' cannot be loaded \(it is "
         r"not in the catalog\); pass a sample: .*--sample EXPR"),
        ("kedro_log_model", "inference --input customers_to_score --sample sample --alias a",
         r"the alias 'a' needs a registered model: .*--register NAME"),
        ("kedro_log_model", "inference --input customers_to_score --sample sample "
         "--signature sample", r"--signature sample: a DataFrame is not a ModelSignature"),
        ("kedro_log_model", "inference --input customers_to_score --sample sample "
         "--example-rows 0", r"example_rows must be at least 1"),
        ("kedro_predict", "", r"--data EXPR is missing"),
        ("kedro_predict", "--data undefined_frame", r"--data 'undefined_frame' failed: NameError"),
        ("kedro_predict", "--data 'sample[\"plan\"].tolist()'", r"is a list; give a pandas, Spark or polars DataFrame"),
        ("kedro_predict", "runs:/0123456789abcdef/model --data sample",
         r"cannot load the model 'runs:/0123456789abcdef/model'.*give a logged model's URI"),
    ],
)  # fmt: skip
def test_user_mistakes_name_the_thing_and_the_fix(shell, magic, line, message):
    with pytest.raises(UsageError, match=message) as raised:
        shell.run_line_magic(magic, line)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    "params, message",
    [
        ("threshold", r"--params 'threshold': write KEY=VALUE"),
        ("=3", r"--params '=3': write KEY=VALUE"),
        ("treshold=0.3", r"unknown parameter 'treshold'; the model's parameters are: "
         r".*threshold"),
        ("threshold=high", r"--params threshold='high': the parameter 'threshold' takes a "
         r"double \(default 0.5\)"),
        ("scoring.decimals=2.5", r"the parameter 'scoring.decimals' takes a long"),
    ],
)  # fmt: skip
def test_bad_params_are_named(shell, logged, params, message):
    info, _, _ = logged
    with pytest.raises(UsageError, match=message):
        shell.run_line_magic("kedro_predict", f"{info.model_uri} --data sample --params {params}")


def test_several_outputs_without_output_lists_them(ipython, make_project, trained_demo):
    root = make_project(
        nodes="""
        def double(frame):
            return frame * 2

        def triple(frame):
            return frame * 3
        """,
        pipelines="""
        return {"__default__": pipeline([
            node(nodes.double, "frame", "doubled", name="double"),
            node(nodes.triple, "frame", "tripled", name="triple"),
        ])}
        """,
    )
    saved = {name: ipython.user_ns.get(name) for name in KEDRO_NAMES}
    try:
        ipython.run_line_magic("reload_kedro", str(root))
        ipython.user_ns["numbers"] = pd.DataFrame({"x": [1, 2]})
        with pytest.raises(UsageError, match=r"several outputs: doubled, tripled; pick one"):
            ipython.run_line_magic("kedro_log_model", "__default__ --input frame --sample numbers")
    finally:
        # Kedro's `pipelines` is one global object: point it back at the demo.
        ipython.run_line_magic("reload_kedro", str(trained_demo))
        ipython.user_ns.update(saved)


# --- %kedro_inputs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line, data_input, problems",
    [
        ("inference", "customers_to_score", []),
        ("inference --input customers_to_score", "customers_to_score", []),
        ("training", None, ["data input"]),  # only parameters: nothing to predict on
    ],
)
def test_kedro_inputs_returns_the_roles(shell, line, data_input, problems):
    roles = shell.run_line_magic("kedro_inputs", line)
    assert roles.data_input == data_input
    assert [problem.name for problem in roles.problems] == problems
    if line.startswith("inference"):
        assert set(roles.artifacts) == {"encoder", "classifier"}
        assert roles.parameters["params:threshold"] == 0.5
        assert roles.outputs == ["predictions"]


def test_kedro_inputs_result_is_assignable_and_displays_as_html(shell):
    shell.run_cell("roles = %kedro_inputs inference")
    html = shell.user_ns["roles"]._repr_html_()
    assert "customers_to_score" in html and "data input" in html


def test_kedro_inputs_opens_namespaces_and_names_an_unknown_one(ipython, tmp_path, trained_demo):
    root = write_chain_project(tmp_path / "chain")
    saved = {name: ipython.user_ns.get(name) for name in KEDRO_NAMES}
    try:
        ipython.run_line_magic("reload_kedro", str(root))
        closed = ipython.run_line_magic("kedro_inputs", "chain_300 --input frame_in")
        assert closed.expanded == ()
        opened = ipython.run_line_magic(
            "kedro_inputs", "chain_300 --input frame_in --expand block_03 --expand block_07"
        )
        assert opened.expanded == ("block_03", "block_07")
        assert opened.data_input == "frame_in" and len(opened.artifacts) == 12
        markdown = picture_bundle(opened.pipeline, opened)["text/markdown"]
        assert "block_03.step_0080" in markdown and "block_04 (25 nodes)" in markdown
        with pytest.raises(
            UsageError, match=r"no namespace 'block_3'; its namespaces are: block_00, "
        ):
            ipython.run_line_magic("kedro_inputs", "chain_300 --expand block_3")
    finally:
        ipython.run_line_magic("reload_kedro", str(trained_demo))
        ipython.user_ns.update(saved)


# --- sample resolution -------------------------------------------------------------------------


def test_sample_can_be_a_catalog_dataset_name(shell, demo_variables):
    catalog = demo_variables["catalog"]
    frame = frame_from("customers", None, "--sample", catalog)
    assert list(frame.columns)[:2] == ["customer_id", "tenure_months"]
    assert len(frame) == len(catalog.load("customers"))


def test_a_notebook_variable_wins_over_a_dataset_of_the_same_name(shell, demo_variables):
    shell.user_ns["customers"] = pd.DataFrame({"only": [1]})
    try:
        frame = frame_from("customers", None, "--sample", demo_variables["catalog"])
    finally:
        del shell.user_ns["customers"]
    assert list(frame.columns) == ["only"]


def test_quoted_arguments_lose_their_quotes():
    assert unquoted('"df[df.x > 1]"') == "df[df.x > 1]"
    assert unquoted("'a b'") == "a b"
    assert unquoted("plain") == "plain"


def test_multi_line_errors_become_one_line():
    text = "the pipeline cannot be packaged:\n  - a: missing\n  - b: not in files"
    assert one_line(text) == "the pipeline cannot be packaged: a: missing; b: not in files"


# --- %kedro_log_model --------------------------------------------------------------------------


def test_log_model_registers_in_the_experiment_and_shows_progress_and_summary(logged):
    info, shown, experiment = logged
    assert info.registered_model_version == 1
    assert experiment == "magic-tests"
    assert info.signature.params.params[-1].name == "threshold"
    assert "✓ collecting artifacts" in shown and "… verifying" in shown
    assert f"model URI     {info.model_uri}" in shown
    assert f"registered    {REGISTERED} version 1 (alias champion)" in shown
    assert "parity check  all 20 rows agree" in shown
    assert f"run           {info.run_id} (a new run)" in shown
    assert "'customer_id': long" in shown


def test_log_summary_and_progress_have_html_and_text(logged):
    info, _, _ = logged
    html = info._repr_html_()
    assert info.model_uri in html and "params" in html and "text-align:left" in html
    assert str(info) == repr(info) and "registered" in str(info)
    assert info.logged.comparison.detail in str(info)
    progress = LoggingProgress("churn", registering=True)
    progress.advance("logging")
    assert str(progress).startswith("logging model 'churn': ✓ collecting artifacts")
    assert "… logging" in progress._repr_html_() and "· registering" in str(progress)
    progress.fail()
    assert "✗ logging" in str(progress)


# --- %kedro_predict ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, labels",
    [
        ("", None),
        ("--params threshold=0.0", {"churn"}),
        ("--params threshold=1", {"stay"}),  # an int for a double parameter
        ("--params threshold=0.0 scoring.labels.positive=leaves", {"leaves"}),
        ("--params threshold=0.0 'scoring.labels.positive=will leave'", {"will leave"}),
    ],
)
def test_predict_with_params(shell, logged, params, labels):
    info, _, _ = logged
    result = shell.run_line_magic("kedro_predict", f"{info.model_uri} --data sample {params}")
    assert list(result.columns) == ["customer_id", "churn_probability", "label"]
    assert len(result) == 20
    if labels is not None:
        assert set(result["label"]) == labels


def test_predict_params_convert_to_the_signature_types(shell, logged):
    info, _, _ = logged
    result = shell.run_line_magic(
        "kedro_predict", f"{info.model_uri} --data sample --params scoring.decimals=1"
    )
    assert (result["churn_probability"] == result["churn_probability"].round(1)).all()


def test_predict_without_uri_uses_the_last_logged_model_and_caches_it(shell, logged):
    import mlflow

    last = mlflow.last_logged_model().model_uri
    key = prediction.models.key(last)
    prediction.models.models.pop(key, None)
    first = shell.run_line_magic("kedro_predict", "--data sample.head(3)")
    cached = prediction.models.models[key]
    second = shell.run_line_magic("kedro_predict", "--data sample.head(3)")
    assert prediction.models.models[key] is cached
    pd.testing.assert_frame_equal(first, second)


def test_predict_by_registered_alias(shell, logged):
    result = shell.run_line_magic("kedro_predict", f"models:/{REGISTERED}@champion --data sample")
    assert len(result) == 20


def test_predict_compare_shows_agreement(shell, logged, capsys):
    info, _, _ = logged
    result = shell.run_line_magic(
        "kedro_predict", f"{info.model_uri} --data sample.head(7) --params threshold=0.2 --compare"
    )
    assert len(result) == 7
    assert "model and pipeline agree: all 7 rows agree" in capsys.readouterr().out


def test_comparison_view_shows_the_rows_that_differ():
    model = pd.DataFrame({"id": [1, 2, 3], "label": ["a", "b", "c"]})
    pipeline = pd.DataFrame({"id": [1, 2, 3], "label": ["a", "x", "c"]})
    view = ComparisonView(compare_results(model, pipeline))
    assert str(view).startswith("model and pipeline DISAGREE: 1 of 3 rows differ")
    assert "x" in str(view).splitlines()[-1]
    assert "<table" in view._repr_html_() and "DISAGREE" in view._repr_html_()


def test_predict_cell_reads_csv(shell, logged):
    info, _, _ = logged
    csv = shell.user_ns["sample"].head(3).to_csv(index=False)
    result = shell.run_cell_magic("kedro_predict", f"{info.model_uri} --params threshold=0.0", csv)
    assert result["customer_id"].tolist() == [1, 2, 3]
    assert set(result["label"]) == {"churn"}


@pytest.mark.parametrize(
    "line, cell, message",
    [
        ("", "  \n", r"the %%kedro_predict cell is empty"),
        ("", "a,b\n1,2,3\n4,5,6,7\n", r"is not CSV with a header row"),
        ("--data sample", "a\n1\n", r"reads the cell as CSV: leave out --data"),
    ],
)
def test_predict_cell_mistakes(shell, logged, line, cell, message):
    info, _, _ = logged
    with pytest.raises(UsageError, match=message):
        shell.run_cell_magic("kedro_predict", f"{info.model_uri} {line}", cell)


def test_predict_wrong_input_names_the_column(shell, logged):
    info, _, _ = logged
    shell.user_ns["partial"] = shell.user_ns["sample"].drop(columns=["plan"])
    with pytest.raises(
        UsageError,
        match=r"could not predict: the frame does not match the model's signature: .*'plan'",
    ):
        shell.run_line_magic("kedro_predict", f"{info.model_uri} --data partial")


def test_a_text_sample_in_a_cell_keeps_working_after_a_mistake(shell, logged):
    info, _, _ = logged
    shell.run_cell(f"%kedro_predict {info.model_uri} --data sample --params nope=1")
    shell.run_cell(f"again = %kedro_predict {info.model_uri} --data sample.head(2)")
    assert len(shell.user_ns["again"]) == 2


# --- expressions as typed (issue 10) -------------------------------------------------------------


@pytest.mark.parametrize(
    "line, expression, rest",
    [
        (
            "--data pd.DataFrame({'text': ['I loved it', 'what a waste']})",
            "pd.DataFrame({'text': ['I loved it', 'what a waste']})",
            "",
        ),
        ("inference --sample df[df.a > 3] --register m", "df[df.a > 3]", "--register m"),
        ('--data "df.head()" --params a=1', "df.head()", "--params a=1"),
        ("--data f(' --x', [1, --2]) --compare", "f(' --x', [1, --2])", "--compare"),
    ],
)
def test_expression_options_take_what_was_typed(line, expression, rest):
    from kedro_mlflow_magic.magics.common import split_expressions

    parsed, expressions = split_expressions(line)
    assert list(expressions.values()) == [expression]
    assert parsed.rstrip().endswith(rest)


def test_predict_takes_an_unquoted_frame_expression(shell, logged):
    info, _text, _experiment = logged
    shell.run_cell("import pandas as pd")
    frame = (
        "pd.DataFrame({'customer_id': [7], 'tenure_months': [2], 'monthly_charges': [99.0], "
        "'support_calls': [5], 'plan': ['basic']})"
    )
    result = shell.run_line_magic(
        "kedro_predict", f"{info.model_uri} --data {frame} --params threshold=0.3"
    )
    assert list(result["customer_id"]) == [7]


def test_the_summary_links_to_the_ui_without_credentials(logged):
    from dataclasses import replace

    from kedro_mlflow_magic.display.log_summary import logged_text

    info, _text, _experiment = logged
    summary = info.logged
    served = replace(summary, tracking_uri="https://alice:s3cret@mlflow.example.com/")
    text = logged_text(served)
    run_page = f"https://mlflow.example.com/#/experiments/{summary.experiment_id}/runs/"
    assert run_page + summary.run_id in text
    assert f"/models/{summary.model_info.model_id}" in text
    assert "s3cret" not in text and "alice" not in text
    assert "run page" not in logged_text(summary)  # a local store has no UI to link to
