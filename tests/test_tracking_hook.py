"""The Kedro hook that opens kedro-mlflow's relative sqlite store from the project root
(``tracking_hook``), loaded by Kedro itself through the ``kedro.hooks`` entry point in real
sessions: relative sqlite URIs of mlflow.yml made absolute, every other setting as written, and
a project without mlflow.yml, or with the plugin's hooks disabled, left alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from kedro.config import MissingConfigException
from sessions import load_project

NODES = "def double(frame):\n    return frame * 2\n"
PIPELINES = """\
flow = pipeline([node(nodes.double, "frame", "doubled")])
return {"flow": flow, "__default__": flow}
"""


def mlflow_yml(tracking_uri: str, registry_uri: str | None = None) -> str:
    registry = f"  mlflow_registry_uri: {registry_uri}\n" if registry_uri else ""
    return (
        f"server:\n  mlflow_tracking_uri: {tracking_uri}\n{registry}"
        "tracking:\n  experiment:\n    name: churn\n"
    )


def mlflow_settings(root: Path) -> dict:
    return load_project(root).session.load_context().config_loader["mlflow"]


def test_relative_sqlite_uris_are_opened_from_the_project_root(make_project) -> None:
    root = make_project(
        NODES,
        PIPELINES,
        files={"conf/local/mlflow.yml": mlflow_yml("sqlite:///mlruns.db", "sqlite:///reg.db")},
    )
    settings = mlflow_settings(root)
    assert settings["server"]["mlflow_tracking_uri"] == f"sqlite:///{root.as_posix()}/mlruns.db"
    assert settings["server"]["mlflow_registry_uri"] == f"sqlite:///{root.as_posix()}/reg.db"
    assert settings["tracking"] == {"experiment": {"name": "churn"}}, "the rest as written"


@pytest.mark.parametrize(
    "uri", ["sqlite:////var/stores/mlflow.db", "http://127.0.0.1:5000", "file:///tmp/mlruns"]
)
def test_other_uris_are_left_as_written(make_project, uri: str) -> None:
    root = make_project(NODES, PIPELINES, files={"conf/local/mlflow.yml": mlflow_yml(uri)})
    assert mlflow_settings(root)["server"]["mlflow_tracking_uri"] == uri


def test_a_project_without_mlflow_yml_is_left_alone(make_project) -> None:
    root = make_project(NODES, PIPELINES)
    loader = load_project(root).session.load_context().config_loader
    with pytest.raises(MissingConfigException):
        loader["mlflow"]


def test_disabled_like_any_plugin_hook(make_project) -> None:
    root = make_project(
        NODES, PIPELINES, files={"conf/local/mlflow.yml": mlflow_yml("sqlite:///mlruns.db")}
    )
    settings = root / "src" / root.name / "settings.py"
    settings.write_text('DISABLE_HOOKS_FOR_PLUGINS = ("kedro-mlflow-magic",)\n')
    loader = load_project(root).session.load_context().config_loader
    assert "mlflow" not in loader.config_patterns, "the hook did not run"
    loader.config_patterns["mlflow"] = ["mlflow*"]
    assert loader["mlflow"]["server"]["mlflow_tracking_uri"] == "sqlite:///mlruns.db"
