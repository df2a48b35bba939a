"""Artifacts on an object store (a real local S3 server, ``moto_server``): their files arrive in
the model byte for byte (the model reads them with the same load settings as the session),
versioned and folder datasets included; no credential or endpoint reaches the model; and the
model serves with the S3 server stopped."""

from __future__ import annotations

import pickle
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from model_files import assert_model_is_clean, credential_values, model_problems
from servers import VENV_BIN, predict_in_fresh_process, running_server, stop
from sessions import load_project

from kedro_mlflow_magic import log_pipeline_model

pytestmark = pytest.mark.slow

BUCKET = "catalog-bucket"
ACCESS_KEY = "moto-access-key-4d1f"
SECRET_KEY = "moto-s3cr3t-9b27e0c5"
VERSION = "2024-01-02T03.04.05.678Z"

NODES = """\
import pandas as pd


def score(frame, labels, weights, regions):
    scored = frame.merge(labels, on="customer_id")
    regions_frame = pd.concat([load() for _key, load in sorted(regions.items())])
    scored = scored.merge(regions_frame, on="customer_id")
    scored["score"] = scored["spend"] * weights["spend"]
    return scored[["customer_id", "label", "region", "score"]]
"""

PIPELINES = """\
flow = pipeline([node(nodes.score, ["frame", "labels", "weights", "regions"], "scored")])
return {"flow": flow, "__default__": flow}
"""

CATALOG = f"""\
labels:
  type: pandas.CSVDataset
  filepath: s3://{BUCKET}/labels.csv
  credentials: object_store
  load_args:
    sep: ";"
    encoding: latin-1
weights:
  type: pickle.PickleDataset
  filepath: s3://{BUCKET}/weights.pkl
  versioned: true
  credentials: object_store
regions:
  type: partitions.PartitionedDataset
  path: s3://{BUCKET}/regions
  dataset:
    type: pandas.CSVDataset
  filename_suffix: .csv
  credentials: object_store
"""

# Latin-1 bytes, ';'-separated: a re-save with the save settings would change them.
LABELS = "customer_id;label\n1;société\n2;café\n".encode("latin-1")


@dataclass(frozen=True)
class ObjectStore:
    endpoint: str
    process: subprocess.Popen


@pytest.fixture
def object_store(tmp_path: Path) -> Iterator[ObjectStore]:
    """A moto S3 server on 127.0.0.1, holding the project's files."""
    import s3fs

    def command(port: int) -> list[str]:
        return [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]

    with running_server(command, "/moto-api/", tmp_path / "moto.log") as server:
        store = ObjectStore(server.url, server.process)
        filesystem = s3fs.S3FileSystem(
            key=ACCESS_KEY, secret=SECRET_KEY, client_kwargs={"endpoint_url": store.endpoint}
        )
        filesystem.mkdir(BUCKET)
        filesystem.pipe(f"{BUCKET}/labels.csv", LABELS)
        filesystem.pipe(f"{BUCKET}/weights.pkl/{VERSION}/weights.pkl", pickle.dumps({"spend": 2}))
        filesystem.pipe(f"{BUCKET}/regions/a.csv", b"customer_id,region\n1,north\n")
        filesystem.pipe(f"{BUCKET}/regions/b.csv", b"customer_id,region\n2,south\n")
        yield store


def test_remote_artifacts_arrive_as_they_are_and_serve_without_the_store(
    object_store: ObjectStore, make_project, tmp_path: Path
) -> None:
    import mlflow

    root = make_project(
        NODES,
        PIPELINES,
        CATALOG,
        credentials=f"""\
            object_store:
              key: {ACCESS_KEY}
              secret: {SECRET_KEY}
              client_kwargs:
                endpoint_url: {object_store.endpoint}
            """,
    )
    project = load_project(root)
    frame = pd.DataFrame({"customer_id": [2, 1], "spend": [10.5, 3.5]})
    in_session = project.catalog.load("labels")
    assert in_session["label"].tolist() == ["société", "café"]

    info = log_pipeline_model(project.pipelines["flow"], project.catalog, "frame", frame)

    folder = assert_model_is_clean(
        info.model_uri,
        secrets=[ACCESS_KEY, SECRET_KEY, object_store.endpoint],
        allowed_pickles={"weights.pkl"},
    )
    assert (folder / "artifacts" / "labels" / "labels.csv").read_bytes() == LABELS
    assert sorted(p.name for p in (folder / "artifacts" / "regions" / "regions").iterdir()) == [
        "a.csv",
        "b.csv",
    ]
    mlmodel = (folder / "MLmodel").read_text()
    assert "endpoint_url" not in mlmodel and "credentials" not in mlmodel
    assert "latin-1" in mlmodel, "the load settings travel with the file"
    # the suite-wide scan looks for this project's credentials (endpoint included) in every model
    secrets = credential_values(root)
    assert {ACCESS_KEY, SECRET_KEY, object_store.endpoint} <= secrets
    assert model_problems(folder, secrets) == []

    expected = {
        "customer_id": [2, 1],
        "label": ["café", "société"],
        "region": ["south", "north"],
        "score": [21.0, 7.0],
    }
    assert mlflow.pyfunc.load_model(info.model_uri).predict(frame).to_dict("list") == expected

    stop(object_store.process)
    served = predict_in_fresh_process(info.model_uri, frame, mlflow.get_tracking_uri(), tmp_path)
    assert served.to_dict("list") == expected
