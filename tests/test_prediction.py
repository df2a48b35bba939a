"""``prediction.py``: the bounded model cache, ``KEY=VALUE`` parameters typed by the model's
signature, and one-line errors, on models logged to a real store."""

from __future__ import annotations

import mlflow
import pytest

from kedro_mlflow_magic import compare_with_session, log_pipeline_model
from kedro_mlflow_magic.errors import ModelLoadError, NotOurModelError, ParameterError
from kedro_mlflow_magic.tracking.prediction import ModelCache, parse_params, predict


@pytest.fixture
def model(demo, demo_sample):
    info = log_pipeline_model(
        demo.pipelines["inference"], demo.catalog, "customers_to_score", demo_sample.head(5)
    )
    return info.model_uri, mlflow.pyfunc.load_model(info.model_uri)


def test_the_cache_keeps_the_most_recently_used_models_up_to_its_size(model, demo):
    uri, _ = model
    cache = ModelCache(size=1)
    first = cache.load(uri)
    assert cache.load(uri) is first and len(cache) == 1
    with mlflow.start_run():
        other = mlflow.pyfunc.log_model(name="other", python_model=EchoModel()).model_uri
    cache.load(other)
    assert len(cache) == 1 and other in cache and uri not in cache
    with pytest.raises(ModelLoadError, match=r"cannot load the model 'runs:/nope/model'"):
        cache.load("runs:/nope/model")


class ConstantModel(mlflow.pyfunc.PythonModel):
    def __init__(self, answer: str) -> None:
        self.answer = answer

    def predict(self, context, model_input, params=None):
        return [self.answer] * len(model_input)


def test_the_cache_keeps_each_stores_models_apart(tmp_path):
    """``models:/scorer/1`` of two stores: after switching the tracking URI, the other one."""
    import pandas as pd

    cache = ModelCache()
    answers = {}
    for store in ("first", "second"):
        mlflow.set_tracking_uri(f"sqlite:///{tmp_path / store}.db")
        # the artifacts in the test's folder (a new store's default is ./mlruns, where pytest runs)
        location = (tmp_path / store).as_uri()
        mlflow.set_experiment(experiment_id=mlflow.create_experiment(store, location))
        with mlflow.start_run():
            mlflow.pyfunc.log_model(
                name="scorer", python_model=ConstantModel(store), registered_model_name="scorer"
            )
        answers[store] = list(cache.load("models:/scorer/1").predict(pd.DataFrame({"x": [1]})))
    assert answers == {"first": ["first"], "second": ["second"]}
    assert len(cache) == 2 and "models:/scorer/1" in cache


def test_params_are_typed_by_the_signature(model):
    _, loaded = model
    params = parse_params(
        ["threshold=1", "scoring.decimals=2", "scoring.labels.positive=yes"], loaded
    )
    assert params == {"threshold": 1.0, "scoring.decimals": 2, "scoring.labels.positive": "yes"}
    assert isinstance(params["threshold"], float)
    assert parse_params(['scoring.labels.positive="quoted"'], loaded) == {
        "scoring.labels.positive": "quoted"
    }
    with pytest.raises(ParameterError, match=r"threshold='high'.*takes a double \(default 0.5\)"):
        parse_params(["threshold=high"], loaded)
    with pytest.raises(ParameterError, match=r"unknown parameter 'nope'.*threshold"):
        parse_params(["nope=1"], loaded)


def test_a_frame_that_does_not_fit_is_one_line_naming_the_column(model, demo_sample):
    uri, loaded = model
    with pytest.raises(Exception, match=r"does not match the model's signature.*plan") as raised:
        predict(loaded, demo_sample.drop(columns=["plan"]), None, uri)
    assert "\n" not in str(raised.value)
    assert len(predict(loaded, demo_sample.head(2), {"threshold": 0.1}, uri)) == 2


class EchoModel(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input


def test_comparing_a_model_we_did_not_log_says_why(demo, demo_sample):
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(name="echo", python_model=EchoModel())
    foreign = mlflow.pyfunc.load_model(info.model_uri)
    with pytest.raises(NotOurModelError, match="was not logged by kedro_mlflow_magic"):
        compare_with_session(foreign, demo_sample, demo.pipelines, demo.catalog)
