"""No secret from the project's credentials in any file of a model, and no pickle but the
project's own pickle artifacts and frozen values
(docs/explanation/behaviour.md#the-logged-model)."""

from __future__ import annotations

import pickle
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pandas as pd
from model_files import assert_model_is_clean, credential_values, model_problems
from sessions import load_project

from kedro_mlflow_magic import log_pipeline_model

FILE_SECRET = "s3cr3t-7f3a9c1e-file-key"
TABLE_SECRET = "s3cr3t-52d0b8aa-table"

NODES = """\
def score(frame, lookup, weights, regions):
    scored = frame.merge(lookup, on="key").merge(regions, on="key")
    scored["score"] = scored["bonus"] * weights["bonus"]
    return scored[["key", "region", "score"]]
"""

PIPELINES = """\
flow = pipeline([node(nodes.score, ["frame", "lookup", "weights", "regions"], "scored")])
return {"flow": flow, "__default__": flow}
"""

CATALOG = """\
lookup:
  type: pandas.CSVDataset
  filepath: data/lookup.csv
  credentials: my_creds
weights:
  type: pickle.PickleDataset
  filepath: data/weights.pkl
regions:
  type: pandas.SQLTableDataset
  table_name: regions
  credentials: warehouse
"""


def test_no_credential_and_no_foreign_pickle_in_the_model(make_project, tmp_path: Path) -> None:
    import mlflow

    database = tmp_path / f"vault-{TABLE_SECRET}.db"
    with sqlite3.connect(database) as connection:
        regions = pd.DataFrame({"key": [1, 2], "region": ["north", "south"]})
        regions.to_sql("regions", connection, index=False)
    root = make_project(
        nodes=NODES,
        pipelines=PIPELINES,
        catalog=CATALOG,
        credentials=f"""\
            my_creds:
              key: "{FILE_SECRET}"
            warehouse:
              con: sqlite:///{database}
            """,
        files={"data/lookup.csv": "key,bonus\n1,0.5\n2,1.5\n"},
    )
    (root / "data" / "weights.pkl").write_bytes(pickle.dumps({"bonus": 4.0}))
    project = load_project(root)
    # the credentials are real: fsspec's local filesystem takes the extra key, the table loads
    assert project.catalog.load("lookup")["bonus"].tolist() == [0.5, 1.5]
    assert project.catalog.load("regions")["region"].tolist() == ["north", "south"]

    frame = pd.DataFrame({"key": [2, 1]})
    info = log_pipeline_model(
        project.pipelines["flow"], project.catalog, "frame", frame, freeze=["regions"]
    )
    folder = assert_model_is_clean(
        info.model_uri,
        secrets=[FILE_SECRET, TABLE_SECRET],
        allowed_pickles={"weights.pkl", "value.pkl"},
    )
    pickles = sorted(path.name for path in folder.rglob("*.pkl"))
    assert pickles == ["value.pkl", "weights.pkl"]
    assert "credentials" not in (folder / "MLmodel").read_text()
    # the suite-wide scan (conftest) finds this project's secrets and passes this model...
    secrets = credential_values(root)
    assert {FILE_SECRET, f"sqlite:///{database}"} <= secrets
    assert model_problems(folder, secrets) == []
    # ...and would catch a leaked secret or a pickle the manifest does not name
    # (planted outside the test session's folders, which the suite-wide scan would fail on)
    with tempfile.TemporaryDirectory() as elsewhere:
        planted = Path(elsewhere) / "planted"
        shutil.copytree(folder, planted)
        (planted / "code" / "leak.txt").write_text(f"key={FILE_SECRET}")
        (planted / "code" / "catalog.pkl").write_bytes(pickle.dumps({"catalog": "object"}))
        problems = model_problems(planted, secrets)
    assert any("leak.txt" in problem and FILE_SECRET in problem for problem in problems)
    assert any("catalog.pkl" in problem for problem in problems)

    predicted = mlflow.pyfunc.load_model(info.model_uri).predict(frame)
    assert predicted.to_dict("list") == {
        "key": [2, 1],
        "region": ["south", "north"],
        "score": [6.0, 2.0],
    }
