"""``signature.py``: samples as frames, parameters as overridable leaves, signatures inferred
with MLflow's own ``infer_signature``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kedro_mlflow_magic.build.signature import (
    infer_model_signature,
    leaves_from_signature,
    model_sample,
    parameter_leaves,
)
from kedro_mlflow_magic.errors import ParameterError, SampleError


def test_samples_keep_their_kind_and_others_are_named():
    frame = pd.DataFrame({"a": [1]})
    assert model_sample(frame) is frame
    images = np.zeros((2, 3, 4))
    assert model_sample(images) is images  # an array of any rank stays an array (a tensor)
    assert model_sample(pd.Series([1, 2], name="s")).columns.tolist() == ["s"]
    with pytest.raises(SampleError, match=r"^the sample is a list; give a pandas, Spark"):
        model_sample([1, 2], name="the sample")
    with pytest.raises(SampleError, match=r"is a 0-D array"):
        model_sample(np.array(1.0))


def test_parameters_flatten_to_dotted_leaves_with_json_where_mlflow_cannot_hold_them():
    leaves = parameter_leaves(
        {"params:model": {"C": 0.5, "grid": [[1, 2], [3, 4]], "none": None}, "params:k": 3}
    )
    by_name = {leaf.name: leaf for leaf in leaves}
    assert set(by_name) == {"model.C", "model.grid", "model.none", "k"}
    assert by_name["model.C"].encoding == "plain" and by_name["model.C"].schema_default == 0.5
    assert by_name["model.grid"].encoding == "json"
    assert by_name["model.grid"].schema_default == "[[1, 2], [3, 4]]"
    assert by_name["model.none"].schema_default == "null"
    with pytest.raises(ParameterError, match="parameter 'x' holds a object"):
        parameter_leaves({"params:x": object()})


def test_an_edited_default_wins_over_the_session_value():
    leaves = parameter_leaves({"params:threshold": 0.5, "params:grid": [[1], [2]]})
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    signature = infer_model_signature(frame, frame["a"] > 1, leaves)
    assert [spec.name for spec in signature.params.params] == ["threshold", "grid"]
    from mlflow.models import ModelSignature
    from mlflow.types import ParamSchema, ParamSpec

    edited = ModelSignature(
        signature.inputs,
        signature.outputs,
        ParamSchema([ParamSpec("threshold", "double", 0.9), ParamSpec("grid", "string", "[[3]]")]),
    )
    values = {leaf.name: leaf.value for leaf in leaves_from_signature(leaves, edited)}
    assert values == {"threshold": 0.9, "grid": [[3]]}
