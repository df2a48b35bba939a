"""``LogModelHook``'s options from settings.py and from ``conf/<env>/mlflow_magic.yml`` go through
the same checks: a bad value is one line naming the key and the file it was set in, in a real
``KedroSession`` of a real project (the hook in its settings.py)."""

from __future__ import annotations

import logging
import uuid
from importlib.metadata import version
from pathlib import Path

import pytest
from projects import write_project

from kedro_mlflow_magic.errors import HookOptionError, SampleError
from kedro_mlflow_magic.hooks import LogModelHook

NODES = "def double(frame):\n    return frame * 2\n"
PIPELINES = 'return {"double": pipeline([node(nodes.double, "frame", "doubled")])}'
SETTINGS = """\
from kedro_mlflow_magic.hooks import LogModelHook

HOOKS = (LogModelHook(after="double", pipeline="double", data_input="frame"),)
"""


def hooked_project(tmp_path: Path, files: dict[str, str]) -> Path:
    package = f"project_{uuid.uuid4().hex[:10]}"
    return write_project(
        tmp_path / package, NODES, PIPELINES, package=package,
        files={f"src/{package}/settings.py": SETTINGS, **files},
    )  # fmt: skip


def session_hook(root: Path, env: str | None = None) -> LogModelHook:
    """Open a real session on ``root`` in ``env`` (its context made, so the hook read its
    environment's options) and return the project's hook."""
    from kedro.framework.project import settings
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(root)
    with KedroSession.create(project_path=root, env=env) as session:
        session.load_context()
    (hook,) = settings.HOOKS
    return hook


def test_a_bad_on_error_in_the_yaml_is_one_line_naming_the_key_and_the_file(
    tmp_path: Path,
) -> None:
    root = hooked_project(
        tmp_path, {"conf/base/mlflow_magic.yml": "log_model:\n  on_error: Warn\n"}
    )
    with pytest.raises(HookOptionError) as refused:
        session_hook(root)
    assert str(refused.value) == (
        "conf/base/mlflow_magic.yml: log_model.on_error must be 'fail' or 'warn', not 'Warn'"
    )


def test_the_environments_file_is_named_when_it_sets_the_bad_value(tmp_path: Path) -> None:
    root = hooked_project(
        tmp_path,
        {
            "conf/base/mlflow_magic.yml": "log_model:\n  name: base_model\n",
            "conf/staging/mlflow_magic.yml": "log_model:\n  example_rows: three\n",
        },
    )
    assert session_hook(root).log_options().name == "base_model"  # conf/local: base alone
    with pytest.raises(HookOptionError) as refused:
        session_hook(root, env="staging")
    assert str(refused.value) == (
        "conf/staging/mlflow_magic.yml: log_model.example_rows must be a whole number of "
        "rows, at least 1, not 'three'"
    )


def test_an_unknown_option_in_the_yaml_names_the_file_and_the_options(tmp_path: Path) -> None:
    root = hooked_project(tmp_path, {"conf/base/mlflow_magic.yml": "log_model:\n  sampel: x\n"})
    with pytest.raises(
        HookOptionError, match=r"^conf/base/mlflow_magic\.yml: log_model has no option sampel;"
    ):
        session_hook(root)


def test_on_error_warn_in_the_yaml_warns_instead_of_failing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = hooked_project(
        tmp_path, {"conf/base/mlflow_magic.yml": "log_model:\n  on_error: warn\n"}
    )
    hook = session_hook(root)
    assert hook.on_error == "fail"  # settings.py's, kept as given
    ours = logging.getLogger("kedro_mlflow_magic")  # Kedro's logging config may not propagate it
    ours.addHandler(caplog.handler)
    try:
        assert hook.failure(SampleError("no rows")) is None
    finally:
        ours.removeHandler(caplog.handler)
    assert "no rows (on_error='warn': the run still succeeds)" in caplog.text


def test_extra_requirements_as_one_name_in_the_yaml_or_in_settings(tmp_path: Path) -> None:
    root = hooked_project(
        tmp_path, {"conf/base/mlflow_magic.yml": "log_model:\n  extra_requirements: psutil\n"}
    )
    pinned = (f"psutil=={version('psutil')}",)
    assert session_hook(root).log_options().extra_requirements == pinned
    hook = LogModelHook(after="a", pipeline="b", extra_requirements="psutil")
    assert hook.log_options().extra_requirements == pinned


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"example_rows": 0}, "settings.py: LogModelHook(example_rows=...) must be a whole"),
        ({"on_error": "Warn"}, "settings.py: LogModelHook(on_error=...) must be 'fail' or"),
        ({"freeze": 3}, "settings.py: LogModelHook(freeze=...) must be a name or a list"),
        ({"output": ["a"]}, "settings.py: LogModelHook(output=...) must be a name, not"),
    ],
)
def test_a_bad_value_in_settings_is_one_line_naming_the_key(options: dict, message: str) -> None:
    with pytest.raises(HookOptionError) as refused:
        LogModelHook(after="training", pipeline="inference", **options)
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)
