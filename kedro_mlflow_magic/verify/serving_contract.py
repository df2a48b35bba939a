"""The serving contract of a prepared pipeline: what a request to its model must hold, found by
running the pipeline on the sample. The columns it reads are required, the others optional and
left out of the input example (``build.required_columns``); whether a row's answer depends on
the other rows of the batch (``verify.batch_independence``, recorded in the manifest); which
parameter defaults should not travel as they are (``build.parameter_notes``). See the
serving-contract guide, ``docs/guides/serving-contract.md``."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from kedro_mlflow_magic.build.parameter_notes import parameter_notes
from kedro_mlflow_magic.build.required_columns import (
    ColumnUse,
    analysable,
    example_frame,
    find_column_use,
    optional_columns,
    with_optional_columns,
)
from kedro_mlflow_magic.build.signature import sample_rows
from kedro_mlflow_magic.quiet import records_dropped
from kedro_mlflow_magic.runtime.kinds import SPARK
from kedro_mlflow_magic.verify.batch_independence import BatchDependence, find_batch_dependence
from kedro_mlflow_magic.verify.parity import comparable_frame, compare_results, differing_rows

if TYPE_CHECKING:
    from mlflow.models import ModelSignature

    from kedro_mlflow_magic.build.logged import ModelContent
    from kedro_mlflow_magic.prepared import PreparedPipeline


def same(answer: Any, reference: Any) -> bool:
    """Whether two answers agree as the parity check would say, without the detail it
    gathers on a disagreement (the search mostly meets disagreements)."""
    left, right = comparable_frame(answer), comparable_frame(reference)
    if (
        type(answer) is type(reference)
        and left is not None
        and right is not None
        and left.shape == right.shape
        and list(left.columns) == list(right.columns)
    ):
        left, right = left.reset_index(drop=True), right.reset_index(drop=True)
        left.columns = right.columns = range(right.shape[1])
        return not differing_rows(left, right).any()
    return bool(compare_results(answer, reference))


@contextlib.contextmanager
def kedro_records_dropped() -> Iterator[None]:
    """Every record of Kedro's loggers dropped (``kedro.pipeline.node``'s "failed with error",
    ``kedro.runner``'s "nodes that have not run"...): a logger's filter sees only the records
    logged on it, not those its children pass up, so each one gets it."""
    names = ["kedro"] + [
        name
        for name, logger in logging.root.manager.loggerDict.items()
        if name.startswith("kedro.") and isinstance(logger, logging.Logger)
    ]
    with contextlib.ExitStack() as stack:
        for name in names:
            stack.enter_context(records_dropped(name))
        yield


@contextlib.contextmanager
def quiet_probe() -> Iterator[None]:
    """A run of the pipeline on a frame changed on purpose: what it logs, warns or prints
    (a node failing without a column) says nothing to the user."""
    with (
        kedro_records_dropped(),
        warnings.catch_warnings(),
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        warnings.simplefilter("ignore")
        yield


class ServingContract:
    """What one prepared pipeline's model asks of a request; each part is found once, when
    first needed."""

    def __init__(self, prepared: PreparedPipeline) -> None:
        self.prepared = prepared

    @cached_property
    def columns(self) -> ColumnUse | None:
        """Which columns of the sample the pipeline needs; None for a tensor and for a Spark
        data input, whose columns all stay required (each run would be a Spark job)."""
        prepared = self.prepared
        if prepared.data_kind == SPARK or not analysable(prepared.sample):
            return None

        def answer(frame: Any) -> Any:
            with quiet_probe():
                return prepared.run_in_session(frame, prepared.leaves)

        return find_column_use(prepared.sample, answer, same, prepared.sample_output)

    @cached_property
    def batch(self) -> BatchDependence | None:
        """How a row's answer depends on the rows around it; None when it does not."""
        prepared = self.prepared

        def answer(frame: Any) -> Any:
            with quiet_probe():
                return prepared.expected_output(frame, prepared.leaves)

        full = prepared.expected_output(prepared.sample, prepared.leaves)
        return find_batch_dependence(prepared.sample, answer, full)

    def column_use(self, given: ModelSignature | None) -> ColumnUse | None:
        """The columns' use behind a log's signature: found for an inferred one, and for a
        given one only when it has optional columns (to leave out of the example those the
        pipeline does not read); a signature given with every column required asks nothing."""
        if given is not None and not optional_columns(given):
            return None
        return self.columns

    def signature(self, inferred: ModelSignature) -> ModelSignature:
        """The inferred signature with the columns the pipeline does not read made optional."""
        return with_optional_columns(inferred, self.columns)

    def example(self, content: ModelContent, given: ModelSignature | None, rows: int) -> Any:
        """The input example: the first ``rows`` rows, without the columns not read that the
        signature leaves optional."""
        frame = example_frame(content.frame, content.signature, self.column_use(given))
        return sample_rows(frame, rows)

    def manifest_entry(self) -> dict[str, Any] | None:
        """What the manifest records of the batch check (only when rows depend on others)."""
        return None if self.batch is None else self.batch.entry()

    def notes(self, content: ModelContent, given: ModelSignature | None) -> list[str]:
        """What the log's summary (and the shell's ``log``, ``LogModelHook``) says."""
        use = self.column_use(given)
        notes = []
        if use is not None:
            # a column made required again (in the signature editor) is no longer optional
            optional = set(optional_columns(content.signature))
            notes = replace(use, not_read=tuple(c for c in use.not_read if c in optional)).notes()
        if self.batch is not None:
            notes.append(self.batch.note())
        return [*notes, *parameter_notes(content.leaves)]
