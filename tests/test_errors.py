"""``errors.py``: every error names the thing and the fix, on one line where a user sees it."""

from __future__ import annotations

import pytest

from kedro_mlflow_magic import errors
from kedro_mlflow_magic.inspect.roles import Problem


def test_one_line_joins_the_lines_of_a_message():
    assert errors.one_line("a:\n  - b\n  - c\n") == "a: b; c"
    assert errors.one_line("") == ""


@pytest.mark.parametrize(
    "error, expected",
    [
        (errors.UnknownDataInputError("x", ["b", "a"]), "'x' is not a free input of the "
         "pipeline; choose the data input among: a, b"),
        (errors.AmbiguousDataInputError(["b", "a"]), "several possible data inputs: a, b; name"),
        (errors.NoDataInputError(["params:k"]), "its only free inputs are parameters (params:k)"),
        (errors.OutputNotChosenError(["y", "x"]), "several outputs: x, y; pick one"),
        (errors.OutputNotChosenError(["x"], chosen="z"), "'z' is not a dataset the pipeline produces"),
        (errors.RegistrationError("champion"), "the alias 'champion' needs a registered model"),
        (errors.SessionMismatchError(["n1"]), "the loaded project has no node n1"),
        (errors.NotOurModelError("the model m-1"), "the model m-1 was not logged by "
         "kedro_mlflow_magic"),
        (errors.UnknownNamespaceError("b", ["c", "a"]), "the pipeline has no namespace 'b'; "
         "its namespaces are: a, c"),
        (errors.PipelineRunError("score", KeyError("plan")), "node 'score' failed: "
         "KeyError: 'plan'"),
    ],
)  # fmt: skip
def test_each_error_names_the_thing(error, expected):
    assert expected in str(error)
    assert isinstance(error, errors.KedroMlflowMagicError)


def test_a_packaging_error_lists_each_problem_with_its_fix():
    problem = Problem("model", "missing-file", "has no file at m.pkl.", "run the training.")
    error = errors.PackagingError([problem])
    assert error.problems == [problem]
    assert errors.one_line(str(error)) == (
        "the pipeline cannot be packaged: model: has no file at m.pkl. Fix: run the training."
    )
