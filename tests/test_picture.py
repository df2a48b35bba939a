"""``picture.py`` and its Mermaid form (docs/explanation/behaviour.md#scale): namespaces as boxes,
opened on request, nested ones closed at the outermost level first, and a picture within Mermaid's
default limits at any size."""

from __future__ import annotations

import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import node, pipeline
from projects import chain_step, namespaced_chain

from kedro_mlflow_magic import inspect_pipeline
from kedro_mlflow_magic.errors import UnknownNamespaceError
from kedro_mlflow_magic.inspect.mermaid import picture_bundle, picture_mermaid, roles_picture
from kedro_mlflow_magic.inspect.picture import (
    MAX_CHARS,
    MAX_EDGES,
    namespace_sizes,
    pipeline_picture,
)

# Mermaid's own defaults (maxTextSize, maxEdges): what JupyterLab before 4.4 draws at most
MERMAID_MAX_TEXT, MERMAID_MAX_EDGES = 50_000, 500


def chain_roles(size: int, namespace_size: int = 25) -> dict[str, str]:
    blocks = -(-size // namespace_size)
    roles = {"frame_in": "data input"}
    for block in range(blocks):
        roles[f"block_{block:02d}.table"] = "artifact"
        roles[f"params:block_{block:02d}.factor"] = "parameter"
    return roles


def chain_inputs(chain):
    """The roles of a chain's inputs, by ``inspect_pipeline`` on a catalog of its own (the
    tables frozen: artifacts)."""
    datasets, tables = {}, []
    for name in chain.inputs():
        if name.startswith("params:"):
            datasets[name] = MemoryDataset(1.0)
        elif name != "frame_in":
            datasets[name] = MemoryDataset([0.5])
            tables.append(name)
    catalog = DataCatalog(datasets=datasets)
    return inspect_pipeline(chain, catalog, "frame_in", freeze=tables)


def labels(picture, kind=None):
    return [shape.label for shape in picture.shapes if kind is None or shape.kind == kind]


def test_each_namespace_is_one_box_labelled_with_its_node_count():
    chain = namespaced_chain(60)  # 25 + 25 + 10
    picture = pipeline_picture(chain, chain_roles(60), chain.outputs())
    assert labels(picture, "namespace") == [
        "block_00 (25 nodes)", "block_01 (25 nodes)", "block_02 (10 nodes)",
    ]  # fmt: skip
    assert labels(picture, "node") == []
    datasets = labels(picture, "dataset")
    # the frames passing inside a box are not drawn; those between boxes are
    assert "block_00.frame_0003" not in datasets
    assert {"block_00.frame_0025", "block_01.frame_0050"} <= set(datasets)
    roles = {shape.label: shape.role for shape in picture.shapes if shape.kind == "dataset"}
    assert roles["frame_in"] == "data input"
    assert roles["block_01.table"] == "artifact"
    assert roles["params:block_02.factor"] == "parameter"
    assert roles["block_02.frame_0060"] == "output"
    assert roles["block_00.frame_0025"] is None
    ids = {shape.label: shape.identifier for shape in picture.shapes}
    assert (ids["block_01.table"], ids["block_01 (25 nodes)"]) in picture.edges
    assert (ids["block_00 (25 nodes)"], ids["block_00.frame_0025"]) in picture.edges
    assert picture.note is None


def test_a_pipeline_without_namespaces_is_drawn_node_by_node():
    plain = pipeline([node(chain_step, ["frame_in", "table", "params:f"], "out", name="one")])
    picture = pipeline_picture(plain, {"frame_in": "data input"}, ["out"])
    assert labels(picture, "node") == ["one"]
    assert picture.namespaces == {}


def test_nested_namespaces_close_at_the_outermost_level_first():
    chain = namespaced_chain(50, nest="outer") + pipeline(
        [node(chain_step, ["block_01.frame_0050", "extra", "params:f"], "last", name="last")]
    )
    assert namespace_sizes(chain) == {"outer": 50, "outer.block_00": 25, "outer.block_01": 25}
    roles = {"frame_in": "data input"}
    closed = pipeline_picture(chain, roles, ["last"])
    assert labels(closed, "namespace") == ["outer (50 nodes)"]
    assert labels(closed, "node") == ["last"]

    opened = pipeline_picture(chain, roles, ["last"], ["outer"])
    assert labels(opened, "namespace") == ["outer.block_00 (25 nodes)", "outer.block_01 (25 nodes)"]
    assert opened.expanded == ("outer",)

    inner = pipeline_picture(chain, roles, ["last"], ["outer.block_01"])  # opens outer too
    assert inner.expanded == ("outer", "outer.block_01")
    assert labels(inner, "namespace") == ["outer.block_00 (25 nodes)"]
    assert len(labels(inner, "node")) == 26  # outer.block_01's 25 and "last"
    assert "outer.block_01.step_0030" in labels(inner, "node")


def test_an_unknown_namespace_is_an_error_listing_the_known_ones():
    chain = namespaced_chain(30)
    with pytest.raises(UnknownNamespaceError) as raised:
        pipeline_picture(chain, {}, chain.outputs(), ["block_7"])
    assert str(raised.value) == (
        "the pipeline has no namespace 'block_7'; its namespaces are: block_00, block_01"
    )
    plain = pipeline([node(chain_step, ["a", "b", "c"], "d", name="one")])
    with pytest.raises(UnknownNamespaceError, match="none: its nodes have no namespace"):
        pipeline_picture(plain, {}, ["d"], ["block_00"])


def test_a_box_holding_a_node_with_a_problem_is_marked():
    chain = namespaced_chain(30)
    roles = {"node block_01.step_0027": "problem"}
    picture = pipeline_picture(chain, roles, chain.outputs())
    boxes = {shape.label: shape.role for shape in picture.shapes if shape.kind == "namespace"}
    assert boxes == {"block_00 (25 nodes)": None, "block_01 (5 nodes)": "problem"}
    assert "class box_1 problem" in picture_mermaid(picture)


@pytest.mark.parametrize("size", [300, 1000])
def test_large_pipelines_in_namespaces_fit_mermaids_limits_with_every_box(size):
    chain = namespaced_chain(size)
    inputs = chain_inputs(chain)
    picture = roles_picture(chain, inputs)
    text = picture_mermaid(picture)
    assert len(text) < MERMAID_MAX_TEXT and len(picture.edges) < MERMAID_MAX_EDGES
    assert len(labels(picture, "namespace")) == size // 25
    assert picture.note is None
    # every artifact and parameter is still drawn, in its role's colour
    classes = [line.split()[-1] for line in text.splitlines() if line.strip().startswith("class ")]
    assert classes.count("artifact") == classes.count("parameter") == size // 25
    assert classes.count("data_input") == 1


def test_a_picture_over_the_limits_is_drawn_coarser_and_says_so():
    flat = namespaced_chain(1000, namespace_size=1000)  # one namespace of 1000 nodes
    inputs = chain_inputs(flat).expand("block_00")
    picture = roles_picture(flat, inputs)
    text = picture_mermaid(picture)
    assert len(text) <= MAX_CHARS and len(picture.edges) <= MAX_EDGES
    assert picture.expanded == ()  # closed again
    assert labels(picture, "namespace") == ["block_00 (1000 nodes)"]
    assert "drawn coarser to stay within Mermaid's limits" in picture.note
    assert "the namespaces asked for stay closed" in picture.note
    assert picture.note in picture_bundle(flat, inputs)["text/markdown"]


def test_many_free_inputs_are_folded_by_role_when_too_many():
    # 600 nodes without namespace, each with its own parameter: no box can help
    nodes = [
        node(chain_step, [f"frame_{index}", "table", f"params:p{index}"], f"frame_{index + 1}",
             name=f"step_{index}")
        for index in range(600)
    ]  # fmt: skip
    roles = {f"params:p{index}": "parameter" for index in range(600)}
    roles.update({"frame_0": "data input", "table": "artifact"})
    picture = pipeline_picture(
        pipeline(nodes), roles, ["frame_600"], measure=lambda picture: len(picture_mermaid(picture))
    )
    assert len(picture.edges) <= MAX_EDGES
    assert labels(picture, "namespace") == ["pipeline (600 nodes)"]
    folded = {shape.label: shape.role for shape in picture.shapes if shape.kind == "folded"}
    assert folded == {"600 parameters": "parameter"}
    assert "the whole pipeline is one box" in picture.note
    # the data input and the lone artifact keep their own shapes
    assert {"frame_0", "table", "frame_600"} <= set(labels(picture, "dataset"))


def test_the_bundle_says_which_namespaces_are_boxes_and_how_to_open_one():
    chain = namespaced_chain(300)
    markdown = picture_bundle(chain, chain_inputs(chain))["text/markdown"]
    assert (
        "namespaces drawn as one box: block_00, block_01, block_02, block_03, block_04 and 7 more"
        in markdown
    )
    assert "--expand NAMESPACE" in markdown and "inputs.expand(NAMESPACE)" in markdown
    assert "\n```mermaid\nflowchart TB\n" in markdown  # 12 boxes: top-down
    small = picture_bundle(namespaced_chain(5), chain_inputs(namespaced_chain(5)))["text/plain"]
    assert small.startswith("flowchart LR\n")
    opened = picture_bundle(chain, chain_inputs(chain).expand("block_03"))
    assert "block_03 (25 nodes)" not in opened["text/plain"]
    assert "block_03.step_0080" in opened["text/plain"]


def test_of_several_namespaces_asked_for_those_named_last_close_first_when_too_large():
    chain = namespaced_chain(1000)
    asked = [f"block_{block:02d}" for block in range(10)]  # 250 nodes: too many edges
    picture = roles_picture(chain, chain_inputs(chain).expand(*asked))
    assert len(picture.edges) <= MAX_EDGES
    assert picture.expanded == ("block_00", "block_01", "block_02")  # each node drawn
    assert "block_02.step_0060" in labels(picture, "node")
    assert "block_03 (25 nodes)" in labels(picture, "namespace")
    assert picture.note.endswith(
        "the namespaces block_03, block_04, block_05, block_06, block_07, block_08, block_09 "
        "stay closed"
    )
