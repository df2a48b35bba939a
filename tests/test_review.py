"""``compare_models`` and ``promote_model`` on a registered model with four real versions (a
changed parameter default, a changed node and retrained artifact, a new required column), in
the sqlite store; the aliases are read back from the registry (``get_registered_model``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from review_models import ReviewModels, customers, log_review_models, v1_scores

from kedro_mlflow_magic import ModelDiff, compare_models, promote_model
from kedro_mlflow_magic.errors import NotRegisteredError, PromotionRefusedError
from kedro_mlflow_magic.runtime import MANIFEST_KEY


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory, mlflow_store: str) -> ReviewModels:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_store)
        return log_review_models(tmp_path_factory.mktemp("review"))


def changes(diff: ModelDiff, section: str) -> list[str]:
    return [str(change) for change in diff.section(section)]


def alias_holder(models: ReviewModels, alias: str) -> int | None:
    """The version holding ``alias``, as the registry says (search_model_versions would leave
    aliases empty)."""
    import mlflow

    held = mlflow.MlflowClient().get_registered_model(models.name).aliases.get(alias)
    return None if held is None else int(held)


def test_a_changed_parameter_default_is_listed_and_breaks_nothing(models: ReviewModels):
    diff = compare_models(models.uri(1), models.uri(2))
    assert changes(diff, "parameters") == ["threshold: default 0.5 -> 0.6"]
    assert changes(diff, "signature") == changes(diff, "nodes") == changes(diff, "artifacts") == []
    assert not diff.breaking
    assert diff.predictions.agree, diff.predictions.detail  # no customer scores in [0.5, 0.6)
    assert diff.predictions.on == f"the input example of {models.uri(1)}"
    assert diff.blocking is None
    assert diff.unknown == ()


def test_a_changed_node_and_retrained_artifact_are_named(models: ReviewModels):
    diff = compare_models(models.uri(2), models.uri(3))
    assert changes(diff, "nodes") == ["score: source changed"]
    assert changes(diff, "artifacts") == ["weights: content changed (weights.pkl)"]
    assert not diff.breaking
    assert not diff.predictions.agree
    assert diff.predictions.detail == "5 of 5 rows differ"
    assert list(diff.predictions.differing_rows.columns.get_level_values(0).unique()) == [
        "before",
        "after",
    ]
    assert diff.blocking.startswith("their answers differ on the input example")
    # each model ran its own node: version 2's answers are the first node's, although this
    # process has imported the project's node module as version 4 has it
    expected = v1_scores(customers().head(5))
    assert diff.predictions.before["score"].tolist() == expected.tolist()
    assert diff.predictions.after["score"].tolist() != expected.tolist()


def test_a_new_required_column_is_breaking(models: ReviewModels):
    diff = compare_models(models.uri(3), models.uri(4))
    assert changes(diff, "signature") == [
        "input column 'region': added, required (string) (breaking)"
    ]
    assert diff.breaking
    assert diff.blocking == "input column 'region': added, required (string) (breaking)"
    assert "after (models:/" in diff.predictions.detail
    assert "region" in diff.predictions.detail


def test_data_given_is_what_both_models_answer_on(models: ReviewModels):
    frame = customers(region=True)
    diff = compare_models(models.uri(3), models.uri(4), data=frame)
    assert diff.predictions.on == "the data given"
    assert len(diff.predictions.before) == len(diff.predictions.after) == 6
    # only the northern customers' scores move (the new column's term)
    moved = diff.predictions.differing_rows["after"]["customer_id"].tolist()
    assert moved == [1, 3, 6]


def test_the_review_lists_every_change_grouped(models: ReviewModels):
    diff = compare_models(models.uri(1), models.uri(4), data=customers(region=True))
    text = str(diff)
    assert repr(diff) == text
    assert text.splitlines()[0].startswith("review")
    assert "BREAKING (1 breaking change)" in text
    for expected in (
        "signature:\n  input column 'region': added, required (string) (breaking)",
        "parameters:\n  threshold: default 0.5 -> 0.6",
        "nodes:\n  score: source changed",
        "artifacts:\n  weights: content changed (weights.pkl)",
        "versions:\n  kedro ",
        "first rows that differ:",
    ):
        assert expected in text, text
    html = diff._repr_html_()
    assert "input column &#x27;region&#x27;: added, required (string) (breaking)" in html
    assert "border-left:4px solid #c92a2a" in html  # breaking: the problem colour


def older_copy(models: ReviewModels, version: int, destination: Path) -> Path:
    """A copy of the version's folder whose manifest has no digests: a model logged before
    they were recorded."""
    import mlflow

    folder = Path(
        mlflow.artifacts.download_artifacts(models.uri(version), dst_path=str(destination))
    )
    mlmodel = folder / "MLmodel"
    metadata = yaml.safe_load(mlmodel.read_text())
    wrapped = metadata["flavors"]["python_function"]["config"][MANIFEST_KEY]
    manifest = json.loads(wrapped[0])
    for node in manifest["nodes"]:
        node.pop("source_sha256")
    for artifact in manifest["artifacts"]:
        artifact.pop("sha256")
    wrapped[0] = json.dumps(manifest)
    mlmodel.write_text(yaml.safe_dump(metadata))
    return folder


def test_a_model_logged_before_digests_is_compared_with_what_it_has(models, tmp_path):
    older = older_copy(models, 2, tmp_path / "older")
    diff = compare_models(str(older), models.uri(3))
    # the node's and the artifact's changes cannot be seen without the digests: said, not guessed
    assert changes(diff, "nodes") == changes(diff, "artifacts") == []
    assert diff.unknown == (
        f"node sources: {older} was logged before source digests were recorded; its nodes "
        "are compared by name, function and wiring only",
        f"artifact contents: {older} was logged before file digests were recorded; its "
        "artifacts are compared by type and load settings only",
    )
    assert "unknown:\n  node sources:" in str(diff)
    assert not diff.predictions.agree  # the answers still tell


def test_a_folder_not_logged_by_us_is_compared_by_signature_and_answers(models, tmp_path):
    import mlflow

    folder = Path(mlflow.artifacts.download_artifacts(models.uri(1), dst_path=str(tmp_path)))
    metadata = yaml.safe_load((folder / "MLmodel").read_text())
    del metadata["flavors"]["python_function"]["config"]
    shutil.copytree(folder, tmp_path / "theirs")
    (tmp_path / "theirs" / "MLmodel").write_text(yaml.safe_dump(metadata))
    try:
        diff = compare_models(models.uri(1), str(tmp_path / "theirs"))
    finally:  # a pickle no manifest names: the suite-wide scan of logged models would flag it
        shutil.rmtree(tmp_path / "theirs")
    assert diff.unknown == (
        f"{tmp_path / 'theirs'} was not logged by kedro_mlflow_magic: its nodes, artifacts "
        "and versions are unknown",
    )
    assert changes(diff, "nodes") == changes(diff, "artifacts") == []


def test_promotions_through_the_review(models: ReviewModels):
    import mlflow

    client = mlflow.MlflowClient()
    # no version holds the alias: it is set
    first = promote_model(models.uri(1), "champion")
    assert (first.replaced, alias_holder(models, "champion")) == (None, 1)
    # nothing breaking and the same answers: it moves, and the promoted version says so
    second = promote_model(models.uri(2), "champion")
    assert (second.replaced, second.forced, alias_holder(models, "champion")) == (1, False, 2)
    tag = client.get_model_version(models.name, "2").tags["kedro_mlflow_magic.promotion.champion"]
    assert tag.startswith("replaced version 1: nothing breaking; answers agree")

    # different answers: refused in one line naming why, and the alias stays
    with pytest.raises(PromotionRefusedError) as refused:
        promote_model(models.uri(3), "champion")
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(
        f"'champion' stays on {models.uri(2)}: {models.uri(3)} was not promoted"
    )
    assert "their answers differ" in message and "force=True" in message
    assert alias_holder(models, "champion") == 2
    assert promote_model(models.uri(3), "champion", force=True).forced
    assert alias_holder(models, "champion") == 3

    # a breaking change: refused, naming the first breaking change; forced, it moves
    with pytest.raises(PromotionRefusedError, match=r"input column 'region': added, required"):
        promote_model(models.uri(4), "champion", data=customers(region=True))
    assert alias_holder(models, "champion") == 3
    forced = promote_model(models.uri(4), "champion", force=True)
    assert (forced.replaced, forced.forced, alias_holder(models, "champion")) == (3, True, 4)
    tag = client.get_model_version(models.name, "4").tags["kedro_mlflow_magic.promotion.champion"]
    assert tag.startswith("replaced version 3 (forced): BREAKING")
    assert "blocking: input column 'region'" in tag
    assert "moved from version 3 to version 4, forced" in str(forced)
    # the version holding it already: nothing to do
    assert "nothing to do" in str(promote_model(f"models:/{models.name}@champion", "champion"))


def test_a_logged_model_uri_promotes_its_registered_version(models: ReviewModels):
    by_run = promote_model(f"runs:/{models.run_ids[1]}/model", "runs-alias")
    assert (by_run.name, by_run.version) == (models.name, 1)
    by_id = promote_model(f"models:/{models.model_ids[2]}", "id-alias")
    assert (by_id.name, by_id.version) == (models.name, 2)
    assert alias_holder(models, "runs-alias") == 1 and alias_holder(models, "id-alias") == 2


def test_a_version_named_otherwise_than_by_number_says_how_to_name_it(models: ReviewModels):
    with pytest.raises(NotRegisteredError, match=rf"models:/{models.name}/<version>\) or by an"):
        promote_model(f"models:/{models.name}/latest", "champion")


def test_an_unregistered_model_cannot_be_promoted(demo, demo_sample):
    from kedro_mlflow_magic import log_pipeline_model

    info = log_pipeline_model(
        demo.pipelines["inference"], demo.catalog, "customers_to_score", demo_sample.head(5)
    )
    with pytest.raises(NotRegisteredError, match=r"this model has 0 \(none\); register it"):
        promote_model(info.model_uri, "champion")


def test_the_answers_of_two_versions_on_a_frame_they_both_take(models: ReviewModels):
    frame = customers()
    diff = compare_models(models.uri(1), models.uri(2), data=frame)
    pd.testing.assert_frame_equal(
        diff.predictions.before.drop(columns="label"), diff.predictions.after.drop(columns="label")
    )
