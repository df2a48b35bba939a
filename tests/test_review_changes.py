"""What the review calls breaking, on MLflow's own schema types: column by column, the output,
the parameters; and the requirements' changes."""

from __future__ import annotations

from mlflow.models import ModelSignature
from mlflow.types import ColSpec, DataType, ParamSchema, ParamSpec, Schema

from kedro_mlflow_magic.verify.review_changes import (
    parameter_changes,
    requirement_changes,
    signature_changes,
)


def signature(*columns: ColSpec, outputs: tuple[ColSpec, ...] = (), params=()) -> ModelSignature:
    return ModelSignature(
        Schema(list(columns)),
        Schema(list(outputs or (ColSpec(DataType.double, "score"),))),
        ParamSchema(list(params)) if params else None,
    )


def described(before: ModelSignature, after: ModelSignature) -> list[str]:
    return [str(change) for change in signature_changes(before, after)]


def test_an_added_required_column_breaks_an_optional_one_does_not():
    before = signature(ColSpec(DataType.long, "tenure"))
    required = signature(ColSpec(DataType.long, "tenure"), ColSpec(DataType.string, "plan"))
    optional = signature(
        ColSpec(DataType.long, "tenure"), ColSpec(DataType.string, "plan", required=False)
    )
    assert described(before, required) == [
        "input column 'plan': added, required (string) (breaking)"
    ]
    assert described(before, optional) == ["input column 'plan': added, optional (string)"]


def test_a_removed_column_does_not_break_a_caller_who_still_sends_it():
    before = signature(ColSpec(DataType.long, "tenure"), ColSpec(DataType.string, "plan"))
    after = signature(ColSpec(DataType.long, "tenure"))
    (change,) = signature_changes(before, after)
    assert not change.breaking
    assert str(change) == "input column 'plan': removed (string; a caller may still send it)"


def test_types_widened_as_mlflow_enforces_them_are_not_breaking_others_are():
    pairs = {
        (DataType.integer, DataType.long): False,
        (DataType.integer, DataType.double): False,
        (DataType.float, DataType.double): False,
        (DataType.double, DataType.long): True,  # narrowed
        (DataType.long, DataType.integer): True,  # narrowed
        (DataType.long, DataType.string): True,
    }
    for (was, now), breaking in pairs.items():
        (change,) = signature_changes(signature(ColSpec(was, "x")), signature(ColSpec(now, "x")))
        assert change.breaking is breaking, (was, now)
        assert (
            change.detail
            == f"type {'changed' if breaking else 'widened'}: {was.name} -> {now.name}"
        )


def test_a_column_made_required_breaks_made_optional_does_not():
    optional = signature(ColSpec(DataType.long, "x", required=False))
    required = signature(ColSpec(DataType.long, "x"))
    assert described(optional, required) == ["input column 'x': now required (breaking)"]
    assert described(required, optional) == ["input column 'x': now optional"]


def test_any_change_of_the_output_breaks():
    column = ColSpec(DataType.long, "x")
    before = signature(column, outputs=(ColSpec(DataType.double, "score"),))
    for outputs, expected in (
        ((ColSpec(DataType.double, "score"), ColSpec(DataType.string, "label")),
         "output column 'label': added (string) (breaking)"),
        ((ColSpec(DataType.float, "score"),), "output column 'score': type double -> float (breaking)"),
        ((ColSpec(DataType.double, "probability"),),
         "output column 'probability': added (double) (breaking)"),
    ):  # fmt: skip
        assert expected in described(before, signature(column, outputs=outputs))


def test_a_removed_or_retyped_parameter_breaks_an_added_one_or_a_new_default_does_not():
    before = ParamSchema(
        [ParamSpec("threshold", DataType.double, 0.5), ParamSpec("label", DataType.string, "yes")]
    )
    after = ParamSchema(
        [
            ParamSpec("threshold", DataType.double, 0.3),
            ParamSpec("label", DataType.long, 1),
            ParamSpec("decimals", DataType.long, 2),
        ]
    )
    changes = {str(change): change.section for change in parameter_changes(before, after)}
    assert changes == {
        "threshold: default 0.5 -> 0.3": "parameters",
        "parameter 'label': type string -> long (breaking)": "signature",
        "parameter 'decimals': added (long, default 2)": "signature",
    }
    (removed,) = parameter_changes(before, ParamSchema([before.params[0]]))
    assert str(removed) == "parameter 'label': removed (breaking)"


def test_requirements_added_removed_and_changed():
    before = ["mlflow==3.17.2", "scikit-learn==1.5.2", "pandas==2.2.3"]
    after = ["mlflow==3.17.2", "scikit_learn==1.6.1", "xgboost==2.1.0"]
    assert [str(change) for change in requirement_changes(before, after)] == [
        "xgboost: added (xgboost==2.1.0)",
        "pandas: removed (pandas==2.2.3)",
        "scikit-learn: ==1.5.2 -> ==1.6.1",
    ]
