"""A synthetic large Kedro project (issue 22): pipelines of N nodes in namespaces of 25, a chain
of pandas steps that each read the previous frame, one artifact (its namespace's table, a
pickled numpy array) and one parameter (its namespace's factor, a float).

The pipelines ``nodes_<N>`` are registered for every N of ``SIZES``; the namespaces and their
artifacts and parameters are shared between sizes (``nodes_100`` is the start of ``nodes_300``).
"""

from __future__ import annotations

import os
import pickle
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# the test suite's project writers (tests/projects.py)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import projects

PACKAGE = "large_bench"
SIZES = (25, 100, 300, 1000)
NAMESPACE_SIZE = 25
TABLE_VALUES = 4096  # 32 KB: over the runtime's per-call copy bound, so shared read-only
DATA_INPUT = "frame_in"

NODES = '''\
"""One step of the chain: the frame's value scaled and shifted."""


def step(frame, table, factor):
    return frame.assign(value=frame["value"] * factor + table[len(frame) % len(table)])


def total(frame):
    """The wide pipeline's one node: each row's total."""
    return frame.sum(axis=1).to_frame("total")
'''

REGISTRY = f'''\
from kedro.pipeline import node, pipeline

from .nodes import step, total

NAMESPACE_SIZE = {NAMESPACE_SIZE}
SIZES = {SIZES!r}


def frame_name(index):
    """The frame node ``index`` reads (node 0 reads the data input)."""
    if index == 0:
        return "{DATA_INPUT}"
    return f"block_{{(index - 1) // NAMESPACE_SIZE:02d}}.frame_{{index:04d}}"


def chain(size):
    nodes = []
    for index in range(size):
        namespace = f"block_{{index // NAMESPACE_SIZE:02d}}"
        nodes.append(
            node(
                step,
                [frame_name(index), f"{{namespace}}.table", f"params:{{namespace}}.factor"],
                frame_name(index + 1),
                name=f"step_{{index:04d}}",
                namespace=namespace,
            )
        )
    return pipeline(nodes)


def register_pipelines():
    pipelines = {{f"nodes_{{size}}": chain(size) for size in SIZES}}
    pipelines["wide"] = pipeline([node(total, "wide_in", "wide_total", name="total")])
    pipelines["__default__"] = pipelines[f"nodes_{{SIZES[0]}}"]
    return pipelines
'''


def namespaces(size: int) -> int:
    return -(-size // NAMESPACE_SIZE)


def sample(rows: int = 50, seed: int = 3) -> pd.DataFrame:
    """The data input: an id and a value per row."""
    generator = np.random.default_rng(seed)
    return pd.DataFrame({"id": np.arange(rows), "value": generator.normal(size=rows)})


def wide_frame(columns: int = 1000, rows: int = 20) -> pd.DataFrame:
    """The wide pipeline's data input: integer, float and text columns in turn, the frame the
    test suite's wide editor gets (``tests/projects.py``)."""
    return projects.wide_frame(columns, rows)


def create_project(folder: Path, package: str = PACKAGE) -> Path:
    """Write the project into ``folder`` (its artifacts included) and return its root."""
    from importlib.metadata import version

    os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
    root = Path(folder)
    source = root / "src" / package
    source.mkdir(parents=True)
    (root / "conf" / "base").mkdir(parents=True)
    (root / "conf" / "local").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "pyproject.toml").write_text(
        projects.PYPROJECT.format(package=package, kedro_version=version("kedro"))
    )
    blocks = namespaces(max(SIZES))
    catalog = [f"{DATA_INPUT}:\n  type: pandas.CSVDataset\n  filepath: data/frame_in.csv\n"]
    parameters = []
    generator = np.random.default_rng(0)
    for block in range(blocks):
        name = f"block_{block:02d}"
        catalog.append(
            f"{name}.table:\n  type: pickle.PickleDataset\n  filepath: data/{name}.pkl\n"
        )
        parameters.append(f"{name}:\n  factor: {1 + (block % 7) / 1000}\n")
        table = generator.normal(scale=1e-3, size=TABLE_VALUES)
        (root / "data" / f"{name}.pkl").write_bytes(pickle.dumps(table))
    sample().to_csv(root / "data" / "frame_in.csv", index=False)
    (root / "conf" / "base" / "catalog.yml").write_text("".join(catalog))
    (root / "conf" / "base" / "parameters.yml").write_text("".join(parameters))
    (root / "conf" / "local" / "credentials.yml").write_text("{}\n")
    (source / "__init__.py").write_text("")
    (source / "settings.py").write_text(
        '"""Default settings."""\n\nDISABLE_HOOKS_FOR_PLUGINS = ("kedro-mlflow", "kedro_mlflow")\n'
    )
    (source / "nodes.py").write_text(NODES)
    (source / "pipeline_registry.py").write_text(textwrap.dedent(REGISTRY))
    return root


@dataclass
class LargeProject:
    """The opened project: a real KedroSession's catalog and pipelines."""

    root: Path
    session: Any
    catalog: Any
    pipelines: dict[str, Any]

    def direct_call(self, size: int, function: Any = None) -> Any:
        """The node functions of ``nodes_<size>`` called in order on the session's objects, as
        one function of the frame: the baseline of predict (``function``: called instead of
        each node's own, e.g. a timing wrapper of it)."""
        from kedro_mlflow_magic.runtime import dataset_key

        pipeline = self.pipelines[f"nodes_{size}"]
        values = {
            name: self.catalog.load(name)
            for name in sorted(pipeline.inputs())
            if name != DATA_INPUT
        }
        calls = [
            (function or node.func, [dataset_key(name) for name in node.inputs], node.outputs[0])
            for node in pipeline.nodes
        ]
        output = next(iter(pipeline.outputs()))

        def call(frame: Any) -> Any:
            data = dict(values)
            data[DATA_INPUT] = frame
            for function, inputs, result in calls:
                data[result] = function(*[data[name] for name in inputs])
            return data[output]

        return call

    def direct_chain(self, size: int) -> Any:
        """The node functions of ``nodes_<size>`` called in order, each on the frame the one
        before made, which is then let go (as a hand-written loop would): the baseline that
        holds no more than Kedro's runner does."""
        pipeline = self.pipelines[f"nodes_{size}"]
        calls = [
            (node.func, self.catalog.load(node.inputs[1]), self.catalog.load(node.inputs[2]))
            for node in pipeline.nodes
        ]

        def call(frame: Any) -> Any:
            for function, table, factor in calls:
                frame = function(frame, table, factor)
            return frame

        return call

    def log_floor(self, size: int, signature: Any) -> str:
        """The hand-written floor model of ``nodes_<size>`` (``large_floor_model.py``), logged
        from code with ``signature``: its URI."""
        import mlflow

        blocks = namespaces(size)
        with mlflow.start_run(run_name=f"floor_{size}"):
            info = mlflow.pyfunc.log_model(
                name=f"floor_{size}",
                python_model=str(Path(__file__).with_name("large_floor_model.py")),
                model_config={"nodes_module": f"{PACKAGE}.nodes", "size": size,
                              "namespace_size": NAMESPACE_SIZE},
                artifacts={f"block_{block:02d}": str(self.root / "data" / f"block_{block:02d}.pkl")
                           for block in range(blocks)},
                signature=signature, pip_requirements=["mlflow", "pandas"],
            )  # fmt: skip
        return info.model_uri


def open_project(root: Path) -> LargeProject:
    from kedro.framework.project import pipelines
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(root)
    session = KedroSession.create(project_path=root)
    catalog = session.load_context().catalog
    return LargeProject(root, session, catalog, {name: pipelines[name] for name in pipelines})
