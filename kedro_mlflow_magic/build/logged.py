"""What one log produced (``LoggedModel``, with MLflow's ``ModelInfo`` shown as its summary)
and what one log puts in the model (``ModelContent``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflow.models.model import ModelInfo

from kedro_mlflow_magic.compat import model_info_as
from kedro_mlflow_magic.display import Summary
from kedro_mlflow_magic.display.log_summary import logged_html, logged_text

if TYPE_CHECKING:
    from mlflow.models import ModelSignature

    from kedro_mlflow_magic.build.shipped_code import IncludedFile
    from kedro_mlflow_magic.build.signature import ParameterLeaf
    from kedro_mlflow_magic.held_output import HeldOutput
    from kedro_mlflow_magic.verify.parity import Comparison


@dataclass(repr=False)
class LoggedModel(Summary):
    """What one log produced: MLflow's ``ModelInfo`` (shown as this summary), the parity
    check, the run it went into (and why that one), and the registered version."""

    model_info: ModelInfo
    comparison: Comparison
    run_id: str
    run_reason: str
    tracking_uri: str
    experiment_id: str
    registered_model_name: str | None = None
    registered_version: int | None = None
    alias: str | None = None
    notes: tuple[str, ...] = field(default=())
    # (artifact, where it comes from) for each MLflow model shipped as an artifact
    sources: tuple[tuple[str, str], ...] = field(default=())
    # the model checked in a fresh environment of its requirements, when asked
    # (docs/explanation/behaviour.md#will-it-serve-where-it-ships):
    # an ``EnvironmentCheck``, or the ``EnvironmentCheckError`` that says why it failed
    environment_check: Any = None
    # the nodes of the pipeline the model does not run, one line per reason
    left_out: tuple[str, ...] = field(default=())
    # what the project's code printed during the log, held back (a magic's; None elsewhere)
    printed: HeldOutput | None = None

    def __post_init__(self) -> None:
        self.model_info = SummarizedModelInfo.of(self.model_info, self)

    def hold_printed(self, printed: HeldOutput) -> None:
        """Keep what the project's code printed during the log (``.printed``, also of the
        ``ModelInfo``), and say in the summary who printed how much."""
        self.printed = printed
        if printed:
            self.notes = (*self.notes, printed.note())

    def summary_text(self) -> str:
        return logged_text(self)

    def summary_html(self) -> str:
        return logged_html(self)


class SummarizedModelInfo(Summary, ModelInfo):
    """MLflow's ``ModelInfo`` of a log, shown as the log's summary: in JupyterLab, in terminal
    IPython under Kedro's rich printer (which uses repr), and with ``print``."""

    logged: LoggedModel

    @classmethod
    def of(cls, info: ModelInfo, logged: LoggedModel) -> SummarizedModelInfo:
        """``info``'s values, shown as the summary of ``logged``."""
        summarized = model_info_as(cls, info)
        summarized.logged = logged
        return summarized

    def summary_text(self) -> str:
        return logged_text(self.logged)

    def summary_html(self) -> str:
        return logged_html(self.logged)

    @property
    def printed(self) -> HeldOutput | None:
        """What the project's code printed during the log, held back (``str()`` shows it)."""
        return self.logged.printed


@dataclass(frozen=True)
class ModelContent:
    """What one log puts in the model: the signature, the sample it holds for (the input
    example's rows), the parameter leaves with its defaults, the packages and files shipped."""

    signature: ModelSignature
    frame: Any  # a pandas frame, or a numpy array for a tensor input
    leaves: list[ParameterLeaf]
    packages: dict[str, Path]
    included: list[IncludedFile]
    # artifact -> the nodes that change it in place (the log's check found them): copied per call
    changed_by: Mapping[str, list[str]] = field(default_factory=dict)
