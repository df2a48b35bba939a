"""Writing real Kedro projects for the tests: one writer, used by the ``make_project`` fixture
and by the module-scoped projects of the load and property tests."""

from __future__ import annotations

import pickle
import textwrap
import uuid
from importlib.metadata import version
from pathlib import Path
from typing import Any

from model_files import plant_package_secrets

PYPROJECT = """\
[tool.kedro]
package_name = "{package}"
project_name = "{package}"
kedro_init_version = "{kedro_version}"
source_dir = "src"
"""

SETTINGS = '"""Default settings."""\n'

# Parameter overrides of the shipped demo project that change its predictions and their form.
DEMO_OVERRIDES = {"threshold": 0.2, "scoring.labels.positive": "leaving", "scoring.decimals": 1}


def write_project(
    root: Path,
    nodes: str,
    pipelines: str,
    catalog: str = "",
    parameters: str = "",
    credentials: str = "",
    files: dict[str, str] | None = None,
    pickles: dict[str, Any] | None = None,
    package: str | None = None,
) -> Path:
    """Write a Kedro project into ``root`` and return it.

    ``nodes`` is the source of ``<package>/nodes.py``; ``pipelines`` the body of
    ``register_pipelines()`` (``node``, ``pipeline`` and ``nodes`` are imported), returning a dict;
    ``files`` and ``pickles`` are written at their paths relative to the root. Without
    ``package``, a unique package name lets several projects live in one test process.
    """
    package = package or f"project_{uuid.uuid4().hex[:10]}"
    source = root / "src" / package
    source.mkdir(parents=True)
    (root / "conf" / "base").mkdir(parents=True)
    (root / "conf" / "local").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        PYPROJECT.format(package=package, kedro_version=version("kedro"))
    )
    (root / "conf" / "base" / "catalog.yml").write_text(textwrap.dedent(catalog) or "{}\n")
    (root / "conf" / "base" / "parameters.yml").write_text(textwrap.dedent(parameters) or "{}\n")
    (root / "conf" / "local" / "credentials.yml").write_text(textwrap.dedent(credentials) or "{}\n")
    (source / "__init__.py").write_text("")
    plant_package_secrets(source)  # must never ship (the suite-wide scan checks)
    (source / "settings.py").write_text(SETTINGS)
    (source / "nodes.py").write_text(textwrap.dedent(nodes))
    body = textwrap.indent(textwrap.dedent(pipelines).strip(), "    ")
    (source / "pipeline_registry.py").write_text(
        "from kedro.pipeline import node, pipeline\n\n"
        "from . import nodes\n\n\n"
        f"def register_pipelines():\n{body}\n"
    )
    for relative, text in (files or {}).items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))
    for relative, value in (pickles or {}).items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(pickle.dumps(value))
    return root


# --- a project shaped like a kedro-mlflow text classifier (issue 10) ---------------------------
# ``inference`` returns a numpy array of labels (text); ``confidence`` a Series of floats;
# ``word_counts`` a Series of integers. Trained with Kedro (its ``training`` pipeline).

TEXT_NODES = """\
import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import LabelEncoder


def fit(frame, labels):
    tokenizer = CountVectorizer().fit(frame["text"])
    encoder = LabelEncoder().fit(labels)
    model = LogisticRegression().fit(tokenizer.transform(frame["text"]), encoder.transform(labels))
    return tokenizer, encoder, model, {"lowercase": True}


def clean(frame, settings):
    text = frame["text"].str.lower() if settings["lowercase"] else frame["text"]
    return text.to_numpy()


def tokenize(text, tokenizer):
    return tokenizer.transform(text)


def classify(tokens, model):
    return model.predict(tokens)


def decode(codes, encoder):
    return np.asarray(encoder.inverse_transform(codes), dtype=object)


def confidence(tokens, model):
    return pd.Series(model.predict_proba(tokens).max(axis=1), name="proba")


def count_words(tokens):
    return pd.Series(np.asarray(tokens.sum(axis=1)).ravel().astype("int64"))
"""

TEXT_PIPELINES = """\
training = pipeline([
    node(nodes.fit, ["reviews", "labels"], ["tokenizer", "encoder", "model", "settings"],
         name="fit"),
])
inference = pipeline([
    node(nodes.clean, ["reviews", "settings"], "cleaned", name="clean"),
    node(nodes.tokenize, ["cleaned", "tokenizer"], "tokens", name="tokenize"),
    node(nodes.classify, ["tokens", "model"], "codes", name="classify"),
    node(nodes.decode, ["codes", "encoder"], "sentiment", name="decode"),
])
tokens = pipeline([
    node(nodes.clean, ["reviews", "settings"], "cleaned", name="clean"),
    node(nodes.tokenize, ["cleaned", "tokenizer"], "tokens", name="tokenize"),
])
confidence = tokens + pipeline([
    node(nodes.confidence, ["tokens", "model"], "confidence", name="confidence"),
])
word_counts = tokens + pipeline([node(nodes.count_words, "tokens", "word_count", name="count")])
return {"training": training, "inference": inference, "confidence": confidence,
        "word_counts": word_counts, "__default__": training + inference}
"""


def catalog_yaml(
    entries: dict[str, tuple[str, str]], extra: dict[str, dict[str, Any]] | None = None
) -> str:
    """A ``catalog.yml``: each dataset's type and file path, plus ``extra`` settings by name."""
    import yaml

    extra = extra or {}
    catalog = {
        name: {"type": kind, "filepath": path, **extra.get(name, {})}
        for name, (kind, path) in entries.items()
    }
    return yaml.safe_dump(catalog, sort_keys=False)


TEXT_CATALOG = catalog_yaml(
    {
        "reviews": ("pickle.PickleDataset", "data/01_raw/reviews.pkl"),
        "labels": ("pickle.PickleDataset", "data/01_raw/labels.pkl"),
        "more_reviews": ("pickle.PickleDataset", "data/01_raw/reviews.pkl"),
        "tokenizer": ("pickle.PickleDataset", "data/06_models/tokenizer.pkl"),
        "encoder": ("pickle.PickleDataset", "data/06_models/encoder.pkl"),
        "model": ("pickle.PickleDataset", "data/06_models/model.pkl"),
        "settings": ("yaml.YAMLDataset", "data/06_models/settings.yml"),
    }
)

REVIEW_TEXTS = [
    "I loved it", "what a waste", "great fun", "boring and long", "loved the cast",
    "a waste of time",
]  # fmt: skip
REVIEW_LABELS = ["good", "bad", "good", "bad", "good", "bad"]


def write_text_project(root: Path) -> Path:
    """The text classifier project with its raw data (reviews as a frame, labels as a Series),
    not yet trained."""
    import pandas as pd

    (root / "data" / "06_models").mkdir(parents=True)
    return write_project(
        root, TEXT_NODES, TEXT_PIPELINES, TEXT_CATALOG, package=root.name,
        pickles={
            "data/01_raw/reviews.pkl": pd.DataFrame({"text": REVIEW_TEXTS * 3}),
            "data/01_raw/labels.pkl": pd.Series(REVIEW_LABELS * 3),
        },
    )  # fmt: skip


# --- large pipelines in namespaces (issue 22) --------------------------------------------------
# A chain of steps in namespaces of 25 (``block_00``...), each node reading the previous frame,
# its namespace's table (an artifact) and factor (a parameter); ``nested`` nests namespaces.

NAMESPACE_SIZE = 25

CHAIN_NODES = """\
def step(frame, table, factor):
    return frame.assign(value=frame["value"] * factor + table[0])


def row_total(frame):
    return frame.sum(axis=1).to_frame("total")
"""

CHAIN_PIPELINES = """\
def frame_name(index):
    if index == 0:
        return "frame_in"
    return f"block_{(index - 1) // 25:02d}.frame_{index:04d}"


def chain(size):
    return pipeline([
        node(nodes.step, [frame_name(index), f"block_{index // 25:02d}.table",
                          f"params:block_{index // 25:02d}.factor"],
             frame_name(index + 1), name=f"step_{index:04d}",
             namespace=f"block_{index // 25:02d}")
        for index in range(size)
    ])


wide = pipeline([node(nodes.row_total, "wide_in", "total", name="total")])
return {"__default__": chain(5), "wide": wide,
        **{f"chain_{size}": chain(size) for size in (5, 300, 1000)}}
"""


def chain_catalog(blocks: int) -> tuple[str, str, dict[str, Any]]:
    """The catalog, parameters and pickled tables of a chain of ``blocks`` namespaces."""
    catalog = "frame_in:\n  type: pandas.CSVDataset\n  filepath: data/frame_in.csv\n"
    parameters = ""
    pickles: dict[str, Any] = {}
    for block in range(blocks):
        name = f"block_{block:02d}"
        catalog += f"{name}.table:\n  type: pickle.PickleDataset\n  filepath: data/{name}.pkl\n"
        parameters += f"{name}:\n  factor: 1.0\n"
        pickles[f"data/{name}.pkl"] = [0.5]
    return catalog, parameters, pickles


# The chain's nodes, each call counted by the number of rows it got (``CALLS``).
COUNTING_CHAIN_NODES = """\
CALLS = []


def step(frame, table, factor):
    CALLS.append(len(frame))
    return frame.assign(value=frame["value"] * factor + table[0])


def row_total(frame):
    return frame.sum(axis=1).to_frame("total")
"""


def write_chain_project(root: Path, nodes: str = CHAIN_NODES) -> Path:
    """A project whose pipelines ``chain_5``, ``chain_300`` and ``chain_1000`` are chains of
    steps in namespaces of 25 (its data input ``frame_in`` is a CSV of ``id`` and ``value``);
    ``wide`` totals the rows of its data input ``wide_in``, for frames of many columns."""
    catalog, parameters, pickles = chain_catalog(-(-1000 // NAMESPACE_SIZE))
    return write_project(
        root, nodes, CHAIN_PIPELINES, catalog, parameters, pickles=pickles,
        files={"data/frame_in.csv": "id,value\n1,0.5\n2,1.5\n"},
    )  # fmt: skip


def chain_step(frame: Any, table: Any, factor: float) -> Any:
    return frame.assign(value=frame["value"] * factor + table[0])


def namespaced_chain(size: int, namespace_size: int = NAMESPACE_SIZE, nest: str = "") -> Any:
    """The same chain as a Kedro pipeline in memory (``nest``: an outer namespace around the
    blocks, e.g. ``"outer"`` gives ``outer.block_00``)."""
    from kedro.pipeline import node, pipeline

    def frame_name(index: int) -> str:
        if index == 0:
            return "frame_in"
        return f"block_{(index - 1) // namespace_size:02d}.frame_{index:04d}"

    prefix = f"{nest}." if nest else ""
    return pipeline(
        [
            node(
                chain_step,
                [frame_name(index), f"block_{index // namespace_size:02d}.table",
                 f"params:block_{index // namespace_size:02d}.factor"],
                frame_name(index + 1),
                name=f"step_{index:04d}",
                namespace=f"{prefix}block_{index // namespace_size:02d}",
            )
            for index in range(size)
        ]
    )  # fmt: skip


def row_total(frame: Any) -> Any:
    """A wide frame's one node (issue 22): each row's total."""
    return frame.sum(axis=1).to_frame("total")


def wide_frame(columns: int, rows: int = 6) -> Any:
    """A frame of ``columns`` columns: integer ``count_*``, float ``score_*`` and boolean
    ``flag_*`` columns in turn."""
    import numpy as np
    import pandas as pd

    generator = np.random.default_rng(5)
    data: dict[str, Any] = {}
    for index in range(columns):
        kind = index % 3
        if kind == 0:
            data[f"count_{index:04d}"] = generator.integers(0, 100, size=rows)
        elif kind == 1:
            data[f"score_{index:04d}"] = generator.normal(size=rows)
        else:
            data[f"flag_{index:04d}"] = generator.integers(0, 2, size=rows).astype(bool)
    return pd.DataFrame(data)
