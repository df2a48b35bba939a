"""Whether a row's prediction depends on the other rows of its batch (a rolling window, a lag,
a normalisation over the batch): the pipeline's answers on a few rows of the sample, alone and
in small batches, compared with its answers on the same rows inside the whole sample. A served
model answering one row per request would answer such rows otherwise than a batch job (see
the serving-contract guide, ``docs/guides/serving-contract.md``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kedro_mlflow_magic.errors import one_line
from kedro_mlflow_magic.runtime import read_manifest
from kedro_mlflow_magic.verify.parity import comparable_frame, compare_results, differing_rows

# Rows predicted alone (the first, the middle and the last of the sample), and the size of the
# small batches (the sample's first rows, and its last ones): at most five extra runs.
ROWS_ALONE = 3
SMALL_BATCH = 4
# The manifest's key for what this check found (only present when a row depends on others).
MANIFEST_KEY = "batch_dependence"
VALUE_LENGTH = 40


@dataclass(frozen=True)
class BatchDependence:
    """Rows whose answer changed with the batch around them: ``example`` says how, on a
    sample of ``checked_rows`` rows predicted as one batch."""

    checked_rows: int
    example: str

    def note(self) -> str:
        return (
            "a row's prediction depends on the other rows of the batch: "
            f"{self.example}; a caller sending fewer rows (one per request) gets other answers "
            "than a batch of the sample's size"
        )

    def entry(self) -> dict[str, Any]:
        """What the manifest records."""
        return {"checked_rows": self.checked_rows, "example": self.example}


def checked_positions(rows: int) -> list[tuple[str, list[int]]]:
    """(how the rows are predicted, their positions): a few rows alone, then small batches;
    none for a sample of one row."""
    if rows < 2:
        return []
    alone = sorted({0, rows // 2, rows - 1})[:ROWS_ALONE]
    checks = [("alone", [position]) for position in alone]
    if rows > SMALL_BATCH:
        first = list(range(SMALL_BATCH))
        last = list(range(rows - SMALL_BATCH, rows))
        checks.append((f"in a batch of the first {SMALL_BATCH} rows", first))
        checks.append((f"in a batch of the last {SMALL_BATCH} rows", last))
    return checks


def row_count(value: Any) -> int | None:
    """The rows of a prediction: a frame's, a Series', an array's first axis; None for any
    other value (a scalar, a dict), which has no answer per row."""
    if isinstance(value, (pd.DataFrame, pd.Series)):
        return len(value)
    if isinstance(value, np.ndarray) and value.ndim >= 1:
        return len(value)
    return None


def rows_at(value: Any, positions: list[int]) -> Any:
    """The rows at ``positions`` of a frame, a Series or an array."""
    if isinstance(value, (pd.DataFrame, pd.Series)):
        return value.iloc[positions]
    return value[positions]


def shown(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{value:.6g}"
    text = str(value)
    return text if len(text) <= VALUE_LENGTH else text[: VALUE_LENGTH - 3] + "..."


def difference(alone: Any, batch: Any) -> tuple[int, str, str] | None:
    """(index among the rows, the answer alone, the answer in the batch) of the first row and
    column that differ; None when no cell can be told (an array of rank 3 or more)."""
    alone_frame, batch_frame = comparable_frame(alone), comparable_frame(batch)
    if alone_frame is None or batch_frame is None or alone_frame.shape != batch_frame.shape:
        return None
    alone_frame = alone_frame.reset_index(drop=True)
    batch_frame = batch_frame.reset_index(drop=True)
    names = list(batch_frame.columns)
    alone_frame.columns = batch_frame.columns = range(len(names))
    differs = differing_rows(alone_frame, batch_frame)
    if not differs.any():
        return None
    row = int(np.flatnonzero(differs.to_numpy())[0])
    for column in range(len(names)):
        single = differing_rows(
            alone_frame[[column]].iloc[[row]], batch_frame[[column]].iloc[[row]]
        )
        if single.any():
            label = "" if len(names) == 1 and isinstance(names[0], int) else f"{names[column]}="
            return (
                row,
                label + shown(alone_frame.iat[row, column]),
                label + shown(batch_frame.iat[row, column]),
            )
    return None


def example_text(how: str, positions: list[int], alone: Any, batch: Any, rows: int) -> str:
    found = difference(alone, batch)
    if found is None:
        return f"row {positions[0]} {how} is answered otherwise than in the batch of {rows} rows"
    index, answer_alone, answer_batch = found
    return (
        f"row {positions[index]} {how} gives {answer_alone}, in the batch of {rows} rows "
        f"{answer_batch}"
    )


def find_batch_dependence(
    sample: Any, answer: Callable[[Any], Any], batch_answer: Any
) -> BatchDependence | None:
    """Predict a few rows of ``sample`` alone and in small batches with ``answer`` and compare
    with ``batch_answer`` (the answer on the whole sample); None when they agree, or when the
    answer has no row per row of the sample (an aggregate, a filter)."""
    rows = len(sample)
    if row_count(batch_answer) != rows:
        return None
    for how, positions in checked_positions(rows):
        expected = rows_at(batch_answer, positions)
        try:
            result = answer(rows_at(sample, positions))
        except Exception as error:
            reason = one_line(str(error))
            return BatchDependence(rows, f"row {positions[0]} {how} fails ({reason})")
        if row_count(result) != len(positions):
            return BatchDependence(
                rows,
                f"rows {positions[0]}-{positions[-1]} {how} give {row_count(result)} rows "
                f"for {len(positions)}",
            )
        if not compare_results(result, expected):
            return BatchDependence(rows, example_text(how, positions, result, expected, rows))
    return None


def fewer_rows_note(model_config: Mapping[str, Any] | None, data: Any) -> str | None:
    """For ``%kedro_predict`` and the shell's ``predict``: a note when a model whose rows depend
    on each other is given fewer rows (``data``) than it was checked on; None otherwise."""
    manifest = read_manifest(model_config)
    entry = manifest.get(MANIFEST_KEY) if manifest is not None else None
    rows = row_count(data)
    if not isinstance(entry, dict) or rows is None or rows >= int(entry.get("checked_rows", 0)):
        return None
    return (
        f"note: this model's answer for a row depends on the other rows of its batch (at log "
        f"time, on {entry['checked_rows']} rows: {entry.get('example', '')}); these {rows} "
        "rows may be answered otherwise inside a larger batch"
    )
