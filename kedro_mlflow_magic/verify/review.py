"""``compare_models``: what changed between two logged models, whether a caller of the first
could break on the second, and how their answers differ on the same rows. The review a team
reads before moving an alias (``promote_model``); the guide is
``docs/guides/review-and-promote.md``.

Each model is downloaded once. Nodes are compared by the digest of their function's source
and artifacts by the digests of their files, both recorded in the manifest when the model was
logged; a model logged before digests were recorded is compared with what it has, and the
diff says what is unknown.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from kedro_mlflow_magic.display import Summary
from kedro_mlflow_magic.display.review import diff_html, diff_text
from kedro_mlflow_magic.errors import one_line
from kedro_mlflow_magic.quiet import quiet_third_party
from kedro_mlflow_magic.verify.parity import compare_results
from kedro_mlflow_magic.verify.review_changes import (
    SECTIONS,
    Change,
    artifact_changes,
    node_changes,
    requirement_changes,
    signature_changes,
    version_changes,
)
from kedro_mlflow_magic.verify.reviewed_model import ReviewedModel

REASON_LENGTH = 300


@dataclass(frozen=True)
class Predictions:
    """Both models' answers on the same rows (``on`` says which): ``agree``, ``detail`` and
    the first ``differing_rows``; ``before`` and ``after`` as the models gave them (None for a
    model that could not predict)."""

    agree: bool
    detail: str
    on: str
    before: Any = None
    after: Any = None
    differing_rows: pd.DataFrame | None = None

    def __bool__(self) -> bool:
        return self.agree


@dataclass(repr=False)
class ModelDiff(Summary):
    """What changed from the model ``before`` to the model ``after``: ``changes`` (each a
    ``Change`` with its section and whether it is breaking), ``predictions`` (None when there
    were no rows to predict on), what could not be compared (``unknown``) and the versions
    each was logged with."""

    before: str
    after: str
    changes: tuple[Change, ...]
    predictions: Predictions | None
    unknown: tuple[str, ...] = ()
    versions: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)

    @property
    def breaking(self) -> bool:
        """Whether a caller of ``before`` could break on ``after``."""
        return any(change.breaking for change in self.changes)

    @property
    def breaking_changes(self) -> list[Change]:
        return [change for change in self.changes if change.breaking]

    def section(self, name: str) -> list[Change]:
        """The changes of one section (``signature``, ``parameters``, ``nodes``,
        ``artifacts``, ``requirements``, ``versions``)."""
        return [change for change in self.changes if change.section == name]

    @property
    def sections(self) -> list[tuple[str, list[Change]]]:
        return [(name, self.section(name)) for name in SECTIONS if self.section(name)]

    @property
    def blocking(self) -> str | None:
        """The first reason not to move an alias from ``before`` to ``after``: a breaking
        change, else answers that differ (or that could not be compared); None when there is
        none."""
        if self.breaking:
            return f"{self.breaking_changes[0]}"
        if self.predictions is None:
            return "no rows to compare their answers on (no data given, no input example)"
        if not self.predictions.agree:
            return f"their answers differ on {self.predictions.on}: {self.predictions.detail}"
        return None

    @property
    def verdict(self) -> str:
        """One line: breaking or not, and whether the answers agree."""
        breaking = self.breaking_changes
        head = (
            f"BREAKING ({len(breaking)} breaking change{'s' * (len(breaking) != 1)})"
            if breaking
            else "nothing breaking"
        )
        if self.predictions is None:
            return f"{head}; answers not compared"
        agree = "answers agree" if self.predictions.agree else "answers DIFFER"
        return f"{head}; {agree} ({self.predictions.detail})"

    def summary_text(self) -> str:
        return diff_text(self)

    def summary_html(self) -> str:
        return diff_html(self)


def failure_reason(error: BaseException) -> str:
    """Why a model could not predict, in one line (MLflow's schema failures without the whole
    frame and schema they quote first)."""
    text = one_line(str(error))
    if text.startswith("Failed to enforce schema of data") and ". Error: " in text:
        text = "the frame does not match its signature: " + text.rsplit(". Error: ", 1)[1]
    else:
        text = f"{type(error).__name__}: {text}"
    return text if len(text) <= REASON_LENGTH else text[: REASON_LENGTH - 3] + "..."


def compare_predictions(
    before: ReviewedModel, after: ReviewedModel, data: Any
) -> Predictions | None:
    """Both models' answers on ``data``, else on the input example of ``before``."""
    on = "the data given"
    if data is None:
        data = before.input_example()
        on = f"the input example of {before.uri}"
        if data is None:
            return None
    answers: dict[str, Any] = {}
    for label, model in (("before", before), ("after", after)):
        try:
            answers[label] = model.answers(data)
        except Exception as error:
            detail = f"{label} ({model.uri}) could not predict: {failure_reason(error)}"
            return Predictions(False, detail, on, answers.get("before"))
    comparison = compare_results(answers["before"], answers["after"], labels=("before", "after"))
    return Predictions(
        comparison.agree, comparison.detail, on, answers["before"], answers["after"],
        comparison.differing_rows,
    )  # fmt: skip


def manifest_changes(before: ReviewedModel, after: ReviewedModel) -> tuple[list[Change], list[str]]:
    """Nodes, artifacts and versions from the manifests, and what they leave unknown."""
    for side in (before, after):
        if side.manifest is None:
            return [], [
                f"{side.uri} was not logged by kedro_mlflow_magic: its nodes, artifacts and "
                "versions are unknown"
            ]
    assert before.manifest is not None and after.manifest is not None
    unknown = []
    nodes, sources_unknown = node_changes(before.manifest, after.manifest)
    if sources_unknown:
        unknown.append(
            f"node sources: {logged_before_digests(before, after, 'source_sha256', 'nodes')} "
            "was logged before source digests were recorded; its nodes are compared by name, "
            "function and wiring only"
        )
    artifacts, contents_unknown = artifact_changes(before.manifest, after.manifest)
    if contents_unknown:
        unknown.append(
            f"artifact contents: {logged_before_digests(before, after, 'sha256', 'artifacts')} "
            "was logged before file digests were recorded; its artifacts are compared by type "
            "and load settings only"
        )
    versions = version_changes(before.manifest["versions"], after.manifest["versions"])
    return [*nodes, *artifacts, *versions], unknown


def logged_before_digests(before: ReviewedModel, after: ReviewedModel, key: str, kind: str) -> str:
    """The URI(s) of the side(s) whose manifest lacks the digests ``key`` of its ``kind``."""
    lacking = [
        side.uri
        for side in (before, after)
        if side.manifest is not None and any(key not in entry for entry in side.manifest[kind])  # type: ignore[literal-required]
    ]
    return " and ".join(lacking) or "one of the models"


def versions_of(
    before: ReviewedModel, after: ReviewedModel
) -> dict[str, tuple[str | None, str | None]]:
    old = before.manifest["versions"] if before.manifest is not None else {}
    new = after.manifest["versions"] if after.manifest is not None else {}
    return {name: (old.get(name), new.get(name)) for name in sorted(set(old) | set(new))}


def compare_models(before: str, after: str, data: Any = None) -> ModelDiff:
    """What changed from the model ``before`` to the model ``after`` (any model URI MLflow
    takes: ``models:/name/3``, ``models:/name@champion``, ``runs:/<run>/model``,
    ``models:/m-...``), whether a caller of ``before`` could break on ``after``, and both
    models' answers on ``data`` (a frame; default: the input example of ``before``)."""
    with (
        quiet_third_party(),
        tempfile.TemporaryDirectory(prefix="kedro-mlflow-magic-review-") as scratch,
    ):
        old = ReviewedModel.download(before, Path(scratch) / "before")
        new = ReviewedModel.download(after, Path(scratch) / "after")
        changes = signature_changes(old.signature, new.signature)
        unknown = [f"{side.uri} has no signature" for side in (old, new) if side.signature is None]
        from_manifests, manifests_unknown = manifest_changes(old, new)
        changes += from_manifests
        changes += requirement_changes(old.requirements, new.requirements)
        predictions = compare_predictions(old, new, data)
    if predictions is None:
        unknown.append(f"answers: no data given and {before} has no input example")
    return ModelDiff(
        before, after, tuple(changes), predictions, (*unknown, *manifests_unknown),
        versions_of(old, new),
    )  # fmt: skip
