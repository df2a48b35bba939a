"""``manifest.py``: the manifest a model carries, built from a real pipeline, and read back
through the runtime's ``read_manifest`` only."""

from __future__ import annotations

import hashlib
import inspect
import json
from importlib.metadata import version

from kedro.pipeline import node, pipeline

from kedro_mlflow_magic.build.manifest import build_manifest, describe_node
from kedro_mlflow_magic.build.signature import parameter_leaves
from kedro_mlflow_magic.runtime import MANIFEST_FORMAT, model_config_of, read_manifest


def add(left: int, right: int) -> int:
    return left + right


def split(value: int) -> dict[str, int]:
    return {"low": value - 1, "high": value + 1}


def test_each_node_is_described_in_its_declared_form():
    entry = describe_node(node(add, {"left": "a", "right": "params:b"}, "total", name="adder"))
    assert entry == {
        "name": "adder",
        "function": f"{__name__}:add",
        "inputs": {"left": "a", "right": "params:b"},
        "outputs": "total",
        # what a review compares: the function's own source text
        "source_sha256": hashlib.sha256(inspect.getsource(add).encode()).hexdigest(),
    }
    assert describe_node(node(split, "total", {"low": "l", "high": "h"}))["outputs"] == {
        "low": "l",
        "high": "h",
    }


def test_the_manifest_is_json_and_round_trips_through_the_model_config():
    flow = pipeline([node(add, ["a", "params:model.b"], "total"), node(split, "total", ["l", "h"])])
    leaves = parameter_leaves({"params:model.b": 2})
    manifest = build_manifest(flow, "a", "l", [], leaves, ["params:model.b"], ["data/vocab.txt"])
    assert json.loads(json.dumps(manifest)) == manifest
    assert manifest["format"] == MANIFEST_FORMAT
    assert [entry["name"] for entry in manifest["nodes"]] == [n.name for n in flow.nodes]
    assert manifest["parameters"] == [
        {"name": "model.b", "path": ["model", "b"], "default": 2, "encoding": "plain"}
    ]
    assert manifest["parameter_inputs"] == {"params:model.b": ["model", "b"]}
    assert manifest["included_files"] == ["data/vocab.txt"]
    assert manifest["versions"]["kedro"] == version("kedro")
    config = model_config_of(manifest)
    assert list(config) == ["kedro_mlflow_magic"]
    # one JSON text (a single YAML scalar in MLmodel, quick for MLflow's pure-Python YAML)
    assert json.loads(config["kedro_mlflow_magic"][0]) == manifest
    assert read_manifest(config) == manifest
    assert read_manifest({"kedro_mlflow_magic": [manifest]}) == manifest  # release 0.1.0's form
    assert read_manifest({"kedro_mlflow_magic": ["not json"]}) is None
    assert read_manifest(None) is None and read_manifest({"kedro_mlflow_magic": "x"}) is None
