"""``promote_model``: a registered model's alias moves to a version only through the review
(``compare_models``) against the version holding it now, or when forced; the verdict is
recorded on the promoted version. The guide is ``docs/guides/review-and-promote.md``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mlflow

from kedro_mlflow_magic.display import Summary
from kedro_mlflow_magic.display.review import promotion_html, promotion_text
from kedro_mlflow_magic.errors import (
    MODEL_URI_FORMS,
    NotRegisteredError,
    PromotionRefusedError,
)
from kedro_mlflow_magic.verify.review import ModelDiff, compare_models

# the tag on the promoted version: the version it replaced and the review's verdict
PROMOTION_TAG = "kedro_mlflow_magic.promotion.{alias}"
TAG_LENGTH = 5000


@dataclass(repr=False)
class Promotion(Summary):
    """Where an alias went: registered model ``name``, its ``version`` that now holds
    ``alias``, the version it ``replaced`` (None: no version held it), the review (``diff``;
    None when there was nothing to compare with) and whether it was ``forced`` past a
    blocking change."""

    name: str
    version: int
    alias: str
    replaced: int | None
    diff: ModelDiff | None = None
    forced: bool = False

    @property
    def model_uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    @property
    def headline(self) -> str:
        if self.replaced is None:
            return f"'{self.alias}' set on version {self.version}: no version held it"
        if self.replaced == self.version:
            return f"'{self.alias}' already on version {self.version}: nothing to do"
        verdict = self.diff.verdict if self.diff is not None else "not reviewed"
        forced = ", forced" if self.forced else ""
        return (
            f"'{self.alias}' moved from version {self.replaced} to version {self.version}"
            f"{forced}: {verdict}"
        )

    def summary_text(self) -> str:
        return promotion_text(self)

    def summary_html(self) -> str:
        return promotion_html(self)


def model_id_of(version: Any) -> str | None:
    """The logged model a registered version is (``models:/m-...`` as its source when the
    store leaves ``model_id`` empty, as sqlite's does)."""
    if version.model_id:
        return version.model_id
    source = str(version.source or "")
    return source.removeprefix("models:/") if source.startswith("models:/m-") else None


def versions_of_run(client: Any, run_id: str, name: str | None = None) -> list[Any]:
    """The registered versions of the models a run logged (of the logged model ``name``)."""
    found = client.search_model_versions(f"run_id = '{run_id}'")
    if name is None:
        return list(found)
    return [
        version
        for version in found
        if model_id_of(version) and client.get_logged_model(model_id_of(version)).name == name
    ]


def registered_version(model_uri: str, client: Any) -> tuple[str, int]:
    """The registered model and version a model URI names; a URI of a logged model (runs:/,
    models:/m-...) must have been registered exactly once."""
    if not model_uri.startswith(("models:/", "runs:/")):
        raise NotRegisteredError(
            f"cannot promote '{model_uri}': give a registered model version "
            "(models:/<name>/<version>, models:/<name>@<alias>) or a logged model's URI "
            f"({MODEL_URI_FORMS}) that was registered"
        )
    path = model_uri.split(":/", 1)[1].strip("/")
    name, at, alias = path.partition("@")
    if at:
        return name, int(client.get_model_version_by_alias(name, alias).version)
    head, _, tail = path.partition("/")
    if model_uri.startswith("models:/") and tail:
        if not tail.isdigit():  # models:/churn/latest, models:/churn/Production
            raise NotRegisteredError(
                f"cannot promote '{model_uri}': name the version by its number "
                f"(models:/{head}/<version>) or by an alias (models:/{head}@<alias>)"
            )
        client.get_model_version(head, tail)  # raises when there is no such version
        return head, int(tail)
    if model_uri.startswith("runs:/"):
        versions = versions_of_run(client, head, tail or None)
    else:
        logged = client.get_logged_model(head)
        versions = [
            version
            for version in versions_of_run(client, logged.source_run_id or "")
            if model_id_of(version) == head
        ]
    if len(versions) != 1:
        found = ", ".join(f"models:/{v.name}/{v.version}" for v in versions) or "none"
        raise NotRegisteredError(
            f"cannot promote '{model_uri}': an alias belongs to a registered model version, "
            f"and this model has {len(versions)} ({found}); register it (registered_model_name="
            "... / --register NAME) or name the version (models:/<name>/<version>)"
        )
    return versions[0].name, int(versions[0].version)


def promote_model(model_uri: str, alias: str, data: Any = None, force: bool = False) -> Promotion:
    """Move ``alias`` of the registered model that ``model_uri`` is a version of to that
    version, only when the review against the version holding it now finds nothing breaking
    and their answers agree on ``data`` (default: the input example of the version holding
    it); ``force=True`` moves it anyway. Otherwise ``PromotionRefusedError`` names the first
    blocking change, and the alias stays. With no version holding the alias, it is set. The
    promoted version gets a tag naming the version it replaced and the verdict."""
    client = mlflow.MlflowClient()
    name, version = registered_version(model_uri, client)
    # the registry's aliases (search_model_versions leaves them empty)
    held = client.get_registered_model(name).aliases.get(alias)
    holder = int(held) if held is not None else None
    if holder == version:
        return Promotion(name, version, alias, holder)
    diff = None
    if holder is not None:
        diff = compare_models(f"models:/{name}/{holder}", f"models:/{name}/{version}", data)
        blocking = diff.blocking
        if blocking is not None and not force:
            raise PromotionRefusedError(
                f"'{alias}' stays on models:/{name}/{holder}: models:/{name}/{version} was "
                f"not promoted, {blocking}; read the review (compare_models, %kedro_diff, "
                "kedro-mlflow-magic diff), then promote with force=True (--force) to move it "
                "anyway",
                diff,
            )
    promotion = Promotion(
        name, version, alias, holder, diff, forced=diff is not None and diff.blocking is not None
    )
    client.set_registered_model_alias(name, alias, str(version))
    client.set_model_version_tag(
        name, str(version), PROMOTION_TAG.format(alias=alias), promotion_record(promotion)
    )
    return promotion


def promotion_record(promotion: Promotion) -> str:
    """The tag's value: the version replaced and the verdict, one line."""
    if promotion.replaced is None:
        record = "replaced none: no version held the alias"
    else:
        assert promotion.diff is not None
        forced = " (forced)" if promotion.forced else ""
        record = f"replaced version {promotion.replaced}{forced}: {promotion.diff.verdict}"
        if promotion.forced:
            record += f"; blocking: {promotion.diff.blocking}"
    return record[:TAG_LENGTH]
