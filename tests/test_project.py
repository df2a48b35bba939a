"""The core behind the shell command and the Kedro hook: finding the project, pipelines by
name, samples from the catalog, and the LogModelHook's options (no subprocess here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kedro_mlflow_magic.errors import ProjectNotFoundError, SampleError, UnknownPipelineError
from kedro_mlflow_magic.project import (
    find_project,
    load_sample_dataset,
    open_project,
    pipeline_named,
)


def test_find_project_walks_up_from_a_subfolder(trained_demo: Path) -> None:
    folder = trained_demo / "src" / "churn_demo"
    assert find_project(folder) == trained_demo


def test_outside_a_project_is_one_line_naming_the_fix(tmp_path: Path) -> None:
    with pytest.raises(
        ProjectNotFoundError, match=r"is not inside a Kedro project.*--project PATH"
    ):
        find_project(tmp_path)


def test_an_unknown_pipeline_lists_the_known_ones(demo) -> None:
    with pytest.raises(UnknownPipelineError) as raised:
        pipeline_named(demo.pipelines, "infrence")
    assert str(raised.value) == (
        "unknown pipeline 'infrence'; the project's pipelines are: __default__, inference, training"
    )


def test_a_sample_dataset_loads_and_a_missing_one_is_named(demo) -> None:
    assert len(load_sample_dataset(demo.catalog, "customers")) == 600
    with pytest.raises(SampleError, match=r"--sample customer: the catalog has no dataset"):
        load_sample_dataset(demo.catalog, "customer", "--sample")


def test_open_project_gives_a_real_session_in_an_environment(trained_demo: Path) -> None:
    with open_project(trained_demo, env="local") as opened:
        assert opened.context.env == "local"
        assert "classifier" in opened.pipeline("inference").inputs()


def test_the_hook_refuses_a_wrong_on_error_and_takes_a_str_for_a_list() -> None:
    from kedro_mlflow_magic.hooks import LogModelHook

    with pytest.raises(ValueError, match=r"settings.py: LogModelHook\(on_error=...\) must be"):
        LogModelHook(after="training", pipeline="inference", on_error="ignore")
    hook = LogModelHook(after="training", pipeline="inference", freeze="encoder")
    assert hook.freeze == ("encoder",)


@pytest.mark.parametrize(
    ("pipeline_names", "expected"),
    [
        (None, ["__default__"]),
        ([], ["__default__"]),
        (["training", "report"], ["training", "report"]),
    ],
)
def test_the_pipelines_a_run_ran(pipeline_names, expected) -> None:
    from kedro_mlflow_magic.hooks.log_model import pipelines_run

    assert pipelines_run({"pipeline_names": pipeline_names}) == expected
