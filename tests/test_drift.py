"""A node that changes an artifact in place would make the model drift between calls, since
artifacts are loaded once and shared (docs/explanation/behaviour.md#predicting): the log finds it,
and the model copies that artifact for every call, naming the node in its summary; a pipeline that
only reads its artifacts logs as before, at no cost per call."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from mlflow.entities import LoggedModelStatus
from sessions import load_project

from kedro_mlflow_magic import log_pipeline_model
from kedro_mlflow_magic.runtime import read_manifest
from kedro_mlflow_magic.verify.drift import fingerprint, same_value

NODES = '''
import pandas as pd


def count_known(rows: pd.DataFrame, vocab: dict) -> pd.DataFrame:
    """Only reads the vocabulary."""
    return rows.assign(known=rows["word"].isin(list(vocab)))


def encode(rows: pd.DataFrame, vocab: dict) -> pd.DataFrame:
    """Grows the shared vocabulary in place: the next call would give other codes."""
    return rows.assign(code=[vocab.setdefault(word, len(vocab)) for word in rows["word"]])


def encode_safely(rows: pd.DataFrame, vocab: dict) -> pd.DataFrame:
    vocab = dict(vocab)
    return rows.assign(code=[vocab.setdefault(word, len(vocab)) for word in rows["word"]])


def weigh(rows: pd.DataFrame, weights):
    if (rows["word"] == "boost").any():
        weights *= 2  # changes the shared array in place, on some inputs only
    return rows.assign(weight=float(weights[0]))


def scale(rows: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Reads a frame artifact (pandas may reorganise its blocks; that is no change)."""
    return rows.assign(scaled=rows["code"] * float(table.values.sum()))
'''

PIPELINES = """return {
    "drifting": pipeline([
        node(nodes.count_known, ["rows", "vocab"], "counted", name="count_known"),
        node(nodes.encode, ["counted", "vocab"], "encoded", name="encode"),
    ]),
    "weighing": pipeline([node(nodes.weigh, ["rows", "weights"], "weighed", name="weigh")]),
    "steady": pipeline([
        node(nodes.count_known, ["rows", "vocab"], "counted", name="count_known"),
        node(nodes.encode_safely, ["counted", "vocab"], "encoded", name="encode_safely"),
        node(nodes.scale, ["encoded", "table"], "scaled", name="scale"),
    ]),
}"""

CATALOG = """
vocab:
  type: pickle.PickleDataset
  filepath: data/vocab.pkl
weights:
  type: pickle.PickleDataset
  filepath: data/weights.pkl
table:
  type: pandas.CSVDataset
  filepath: data/table.csv
"""

ROWS = pd.DataFrame({"word": ["cat", "dog", "emu"]})


@pytest.fixture
def project(make_project):
    root = make_project(
        nodes=NODES,
        pipelines=PIPELINES,
        catalog=CATALOG,
        files={"data/table.csv": "a,b\n1,0.5\n2,1.5\n"},
    )
    (root / "data" / "vocab.pkl").write_bytes(pickle.dumps({"<pad>": 0}))
    (root / "data" / "weights.pkl").write_bytes(pickle.dumps(np.ones(10_000)))
    return load_project(root)


def runs_with_status(status: str) -> int:
    import mlflow

    return int((mlflow.search_runs(search_all_experiments=True)["status"] == status).sum())


# Too large to copy on every call (runtime/sharing.py): shared, so a change in place would drift
LARGE_VOCAB = {"<pad>": 0} | {f"word-{index}": index + 1 for index in range(3000)}


def test_a_node_growing_a_large_shared_artifact_makes_the_model_copy_it_for_every_call(
    project,
) -> None:
    """A vocabulary too large to be copied per call by default is shared; when the log sees a
    node grow it in place, the model is logged anew with the vocabulary copied per call (as
    Kedro's runner loads it afresh for each node), and the summary says so, naming the node."""
    import mlflow

    (project.root / "data" / "vocab.pkl").write_bytes(pickle.dumps(LARGE_VOCAB))
    failed_before = runs_with_status("FAILED")
    info = log_pipeline_model(project.pipelines["drifting"], project.catalog, "rows", ROWS)
    # two nodes read the vocabulary; only the one that grows it is named
    (note,) = [note for note in info.logged.notes if "copies 'vocab'" in note]
    assert "node 'encode' changes it in place" in note and "count_known" not in note
    model = mlflow.pyfunc.load_model(info.model_uri)
    (entry,) = read_manifest(model.model_config)["artifacts"]
    assert entry["changed_by"] == ["encode"]
    unseen = pd.DataFrame({"word": ["yak", "gnu"]})
    size = len(LARGE_VOCAB)
    for frame, codes in ((ROWS, [size, size + 1, size + 2]), (unseen, [size, size + 1])):
        assert list(model.predict(frame)["code"]) == codes
        assert list(model.predict(frame)["code"]) == codes
    assert model.unwrap_python_model().artifacts["vocab"] == LARGE_VOCAB
    # the run is not failed; the first, drifting model of it is
    assert runs_with_status("FAILED") == failed_before
    models = mlflow.search_logged_models(
        experiment_ids=[info.logged.experiment_id], output_format="list"
    )
    failed = [
        model
        for model in models
        if model.status == LoggedModelStatus.FAILED and model.source_run_id == info.run_id
    ]
    assert len(failed) == 1 and failed[0].model_id != info.model_id
    # the project's own file is untouched
    assert pickle.loads((project.root / "data" / "vocab.pkl").read_bytes()) == LARGE_VOCAB


def test_a_node_growing_a_small_artifact_gets_its_own_copy_on_every_call(project) -> None:
    """A small vocabulary is copied for each node that reads it, on every call, as Kedro's
    runner loads it afresh: the node that grows it changes no later answer, on any input."""
    import mlflow

    info = log_pipeline_model(project.pipelines["drifting"], project.catalog, "rows", ROWS)
    model = mlflow.pyfunc.load_model(info.model_uri)
    unseen = pd.DataFrame({"word": ["yak", "gnu"]})
    for frame, codes in ((ROWS, [1, 2, 3]), (unseen, [1, 2]), (unseen, [1, 2]), (ROWS, [1, 2, 3])):
        assert list(model.predict(frame)["code"]) == codes
    assert model.unwrap_python_model().artifacts["vocab"] == {"<pad>": 0}


def test_a_node_that_copies_before_changing_logs_and_predicts_the_same_each_call(
    project,
) -> None:
    import mlflow

    info = log_pipeline_model(project.pipelines["steady"], project.catalog, "rows", ROWS)
    model = mlflow.pyfunc.load_model(info.model_uri)
    answers = [model.predict(ROWS) for _ in range(3)]
    for answer in answers:
        assert list(answer["code"]) == [1, 2, 3]
        assert list(answer["scaled"]) == [5.0, 10.0, 15.0]
    assert model.unwrap_python_model().artifacts["vocab"] == {"<pad>": 0}


def test_a_changed_value_is_told_apart_from_a_changed_layout() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    frame["b"] = [3.0, 4.0]  # a second block, until pandas consolidates the frame
    before = fingerprint(frame)
    twin = frame.copy(deep=True)
    frame._consolidate_inplace()
    assert fingerprint(frame) != before  # the digest alone would cry wolf...
    assert same_value(twin, frame)  # ...so a moved digest is settled by value
    frame.loc[0, "a"] = 9.0
    assert not same_value(twin, frame)
    assert same_value(np.array([1.0, np.nan]), np.array([1.0, np.nan]))
    assert not same_value({"a": 1}, {"a": 1, "b": 2})
    assert fingerprint(lambda: None) is None  # not picklable: not watched


VECTORIZER_NODES = """
def count_words(rows, vectorizer):
    return rows.assign(words=vectorizer.transform(rows["text"]).sum(axis=1).A1)
"""


def test_a_cache_an_artifact_fills_on_first_use_is_no_drift(make_project) -> None:
    """scikit-learn's CountVectorizer records the id() of its stop words when first used in
    a process: its first call in the reloaded model changes it, once. That logs."""
    import mlflow
    from sklearn.feature_extraction.text import CountVectorizer

    root = make_project(
        nodes=VECTORIZER_NODES,
        pipelines='return {"count": pipeline([node(nodes.count_words, ["rows", '
        '"vectorizer"], "counted", name="count_words")])}',
        catalog="vectorizer:\n  type: pickle.PickleDataset\n  filepath: data/vectorizer.pkl\n",
    )
    texts = pd.DataFrame({"text": ["the cat sat", "a dog ran far", "emus run"]})
    vectorizer = CountVectorizer(stop_words="english").fit(texts["text"])
    (root / "data").mkdir()
    (root / "data" / "vectorizer.pkl").write_bytes(pickle.dumps(vectorizer))
    project = load_project(root)
    info = log_pipeline_model(project.pipelines["count"], project.catalog, "rows", texts)
    model = mlflow.pyfunc.load_model(info.model_uri)
    expected = list(vectorizer.transform(texts["text"]).sum(axis=1).A1)
    assert expected == [2, 3, 2]
    assert [list(model.predict(texts)["words"]) for _ in range(2)] == [expected] * 2


def test_a_large_array_artifact_is_read_only_so_a_change_raises_naming_node_and_artifact(
    project,
) -> None:
    """Too large to copy per call, an array is handed out read-only: a node changing it on an
    input the sample did not hold fails at once, naming itself and the artifact, and the next
    calls answer as before."""
    import mlflow
    from mlflow.exceptions import MlflowException

    info = log_pipeline_model(project.pipelines["weighing"], project.catalog, "rows", ROWS)
    model = mlflow.pyfunc.load_model(info.model_uri)
    assert list(model.predict(ROWS)["weight"]) == [1.0, 1.0, 1.0]
    with pytest.raises(MlflowException) as raised:
        model.predict(pd.DataFrame({"word": ["boost"]}))
    message = raised.value.message
    assert message.startswith("node 'weigh' failed writing into the artifact 'weights'")
    assert "read-only" in message and ".copy()" in message
    assert list(model.predict(ROWS)["weight"]) == [1.0, 1.0, 1.0]
