"""compare_with_session: a logged model checked against the Kedro session from Python (the
same check ``%kedro_predict --compare`` shows)."""

from __future__ import annotations

import pandas as pd
import pytest
from sessions import LoadedProject

from kedro_mlflow_magic import SessionMismatchError, compare_with_session, log_pipeline_model


@pytest.fixture
def demo_model(demo: LoadedProject, demo_sample: pd.DataFrame):
    import mlflow

    info = log_pipeline_model(
        demo.pipelines["inference"], demo.catalog, "customers_to_score", demo_sample
    )
    return mlflow.pyfunc.load_model(info.model_uri)


def test_the_model_agrees_with_the_session_with_and_without_params(
    demo_model, demo: LoadedProject, demo_sample: pd.DataFrame
) -> None:
    plain = compare_with_session(demo_model, demo_sample, demo.pipelines, demo.catalog)
    assert plain.agree, plain.detail
    assert plain.detail == f"all {len(demo_sample)} rows agree"
    overridden = compare_with_session(
        demo_model, demo_sample, demo.pipelines, demo.catalog, params={"threshold": 0.05}
    )
    assert overridden.agree, overridden.detail


def test_a_different_result_is_shown_row_by_row(
    demo_model, demo: LoadedProject, demo_sample: pd.DataFrame
) -> None:
    wrong = demo_model.predict(demo_sample).assign(label="stay")
    comparison = compare_with_session(
        demo_model, demo_sample, demo.pipelines, demo.catalog, result=wrong
    )
    assert not comparison.agree
    assert "rows differ" in comparison.detail
    assert comparison.differing_rows is not None and len(comparison.differing_rows) > 0


def test_the_same_rows_in_another_order_are_told_apart_from_different_rows(
    demo_model, demo: LoadedProject, demo_sample: pd.DataFrame
) -> None:
    predicted = demo_model.predict(demo_sample)
    assert predicted.drop_duplicates().shape[0] > 1  # reversing the rows changes the frame
    shuffled = predicted.iloc[::-1]  # as a Spark join may give them
    comparison = compare_with_session(
        demo_model, demo_sample, demo.pipelines, demo.catalog, result=shuffled
    )
    assert not comparison.agree
    assert "the same rows in another order" in comparison.detail
    assert "sort the output in its node" in comparison.detail
    wrong = shuffled.assign(label="stay")
    different = compare_with_session(
        demo_model, demo_sample, demo.pipelines, demo.catalog, result=wrong
    )
    assert not different.agree and "another order" not in different.detail


def test_a_project_without_the_models_nodes_is_named(
    demo_model, demo: LoadedProject, demo_sample: pd.DataFrame
) -> None:
    only_training = {"training": demo.pipelines["training"]}
    with pytest.raises(SessionMismatchError, match="no node encode_features, score_customers"):
        compare_with_session(demo_model, demo_sample, only_training, demo.catalog)
