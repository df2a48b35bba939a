"""LogOptions: the options of a log, checked once when built, whichever face builds them."""

import dataclasses

import pytest

import kedro_mlflow_magic
from kedro_mlflow_magic.errors import RegistrationError, SampleError
from kedro_mlflow_magic.options import LogOptions, log_options


def test_the_defaults_are_those_of_the_log():
    options = LogOptions()
    assert (options.name, options.example_rows, options.signature) == ("model", 5, None)
    assert options.registered_model_name is None and options.alias is None


def test_wrong_options_are_refused_when_built():
    with pytest.raises(SampleError, match="example_rows must be at least 1, not 0"):
        LogOptions(example_rows=0)
    with pytest.raises(RegistrationError, match="the alias 'a' needs a registered model"):
        LogOptions(alias="a")


def test_extra_requirements_are_pinned_when_built_and_a_wrong_one_refused():
    from importlib.metadata import version

    from kedro_mlflow_magic.errors import RequirementError

    options = LogOptions(extra_requirements=["psutil", "scipy>=1.0"])
    assert options.extra_requirements == (f"psutil=={version('psutil')}", "scipy>=1.0")
    assert options.but(name="m").extra_requirements == options.extra_requirements
    assert LogOptions(extra_requirements="psutil").extra_requirements == (  # type: ignore[arg-type]
        f"psutil=={version('psutil')}",
    )
    with pytest.raises(RequirementError, match="'no-such-package-kmm' is not installed here"):
        LogOptions(extra_requirements=("no-such-package-kmm",))


def test_they_are_frozen_and_changed_by_copy_checked_again():
    options = LogOptions(registered_model_name="churn", alias="champion")
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.alias = "x"  # type: ignore[misc]
    assert options.but() is options
    assert options.but(name="churn").name == "churn" and options.name == "model"
    with pytest.raises(RegistrationError):
        options.but(registered_model_name=None)


def test_keywords_change_the_options_given():
    given = LogOptions(name="churn")
    assert log_options() == LogOptions()
    assert log_options(given) is given
    assert log_options(given, example_rows=3) == LogOptions(name="churn", example_rows=3)
    with pytest.raises(TypeError, match="no_such_option"):
        log_options(no_such_option=1)


def test_the_public_api_has_them():
    assert kedro_mlflow_magic.LogOptions is LogOptions
    assert "LogOptions" in kedro_mlflow_magic.__all__


def test_the_hook_builds_its_options_with_the_environments_and_checks_them_before_the_run():
    from kedro_mlflow_magic.errors import LogAfterRunError
    from kedro_mlflow_magic.hooks import LogModelHook
    from kedro_mlflow_magic.hooks.hook_options import OptionSource

    hook = LogModelHook(after="training", pipeline="inference", alias="champion")
    training_run = {"pipeline_names": ["training"]}
    with pytest.raises(LogAfterRunError, match="the alias 'champion' needs a registered model"):
        hook.before_pipeline_run(training_run, None, None)
    yml = OptionSource("conf/base/mlflow_magic.yml", "log_model.{key}")
    hook.with_environment({"registered_model_name": "churn", "example_rows": 3}, yml)
    hook.before_pipeline_run(training_run, None, None)
    assert hook.log_options() == LogOptions(
        example_rows=3, registered_model_name="churn", alias="champion"
    )


def test_the_hook_passes_its_extra_requirements_pinned():
    from importlib.metadata import version

    from kedro_mlflow_magic.hooks import LogModelHook

    hook = LogModelHook(after="training", pipeline="inference", extra_requirements=["psutil"])
    assert hook.log_options().extra_requirements == (f"psutil=={version('psutil')}",)
    # one name as a str, as LogOptions takes it
    hook = LogModelHook(after="training", pipeline="inference", extra_requirements="psutil")
    assert hook.log_options().extra_requirements == (f"psutil=={version('psutil')}",)
