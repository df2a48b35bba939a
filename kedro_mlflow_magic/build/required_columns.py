"""Which columns of the data input the pipeline needs: a column is needed when the pipeline,
run on the sample without it, fails or answers differently. Columns are tested in groups, so
that a wide frame costs a bounded number of runs; the columns the pipeline does not need become
optional in the signature and are left out of the input example (see the serving-contract
guide, ``docs/guides/serving-contract.md``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from mlflow.models import ModelSignature

from kedro_mlflow_magic.build.signature_edits import SignatureEdits, edit_signature

# The most extra runs of the pipeline on the sample that finding the needed columns (and the
# hint about columns whose values never matter) may cost, whatever the width of the frame.
COLUMN_RUNS = 64
# Of those, the most the hint may take.
HINT_RUNS = 16
# The runs use the sample's first rows, up to this many: their cost stays near one small run's.
COLUMN_ROWS = 1000
# How many column names a note spells out before it counts the rest.
NAMES_SHOWN = 8

SAME, CHANGED, FAILED = "same", "changed", "failed"
# what the pipeline did on the sample with some columns taken away (or their values moved)
Outcome = str


@dataclass(frozen=True)
class ColumnUse:
    """What the runs found: ``not_read`` columns leave the output on the sample as it is when
    they are all taken away; ``needed`` ones fail the pipeline or change its output;
    ``unchecked`` ones were not reached within ``COLUMN_RUNS`` and stay required;
    ``values_unused`` are needed columns (the pipeline fails without them) whose values never
    change the output on the sample: a hint, they stay required."""

    needed: tuple[str, ...] = ()
    not_read: tuple[str, ...] = ()
    unchecked: tuple[str, ...] = ()
    values_unused: tuple[str, ...] = ()
    runs: int = 0
    rows: int = 0

    def notes(self) -> list[str]:
        """What the log's summary says of the columns (nothing when every column is needed)."""
        notes = []
        if self.not_read:
            them = "them" if len(self.not_read) > 1 else "it"
            notes.append(
                f"not read by the pipeline: {names_text(self.not_read)} (optional in the "
                f"signature and left out of the input example: a request may leave {them} out)"
            )
        if self.values_unused:
            several = len(self.values_unused) > 1
            its, stays = ("their", "they stay") if several else ("its", "it stays")
            notes.append(
                f"hint: the pipeline fails without {names_text(self.values_unused)}, but {its} "
                f"values never change the output on the sample: {stays} required; a node that "
                f"reads {'them' if several else 'it'} only to drop or check "
                f"{'them' if several else 'it'} could do without, and "
                f"{'they' if several else 'it'} would be optional"
            )
        if self.unchecked:
            notes.append(
                f"{len(self.unchecked)} of {len(self.columns)} columns stay required without "
                f"being checked ({self.runs} runs were the most this check may take); drop the "
                "columns the pipeline does not read from the sample, or make them optional in "
                "%kedro_signature"
            )
        return notes

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.needed, *self.not_read, *self.unchecked)


def names_text(names: Sequence[str]) -> str:
    """Column names for a note: the first few, then how many more."""
    shown = ", ".join(names[:NAMES_SHOWN])
    more = len(names) - NAMES_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown


class GroupSearch:
    """Adaptive group testing (binary splitting with a group size that adapts): which items
    can be taken away together without changing the pipeline's answer. ``probe(items)`` runs
    the pipeline with ``items`` taken away. Items are tried in order, in groups that double
    after each group cleared (``SAME``) and halve after each group holding a needed item,
    which a binary search inside the group then finds. What is cleared stays taken away in
    the next probes, so items that matter only together are found too.

    For ``d`` needed items among ``n``, that is about ``d * (2 * log2(n / d) + 2)`` probes at
    most (``n`` when every item is needed), and never more than ``budget``: the items not
    reached then are ``unchecked``."""

    def __init__(self, probe: Callable[[list[str]], Outcome], budget: int) -> None:
        self.probe = probe
        self.budget = budget
        self.runs = 0
        self.cleared: list[str] = []
        self.kept: dict[str, Outcome] = {}
        self.unchecked: list[str] = []

    def tried(self, group: list[str]) -> Outcome | None:
        """The probe's outcome with ``group`` taken away too (cleared when ``SAME``); None
        when the budget is spent."""
        if self.runs >= self.budget:
            return None
        self.runs += 1
        outcome = self.probe([*self.cleared, *group])
        if outcome == SAME:
            self.cleared.extend(group)
        return outcome

    def search(self, items: list[str]) -> None:
        position, size = 0, 1
        while position < len(items):
            group = items[position : position + size]
            outcome = self.tried(group)
            if outcome is None:
                self.unchecked.extend(items[position:])
                return
            if outcome == SAME:
                position, size = position + len(group), size * 2
                continue
            found = self.first_needed(group, outcome)
            if found is None:  # the budget ran out inside the group
                cleared = set(self.cleared)
                self.unchecked.extend(item for item in items[position:] if item not in cleared)
                return
            position, size = items.index(found, position) + 1, max(1, size // 2)

    def first_needed(self, group: list[str], outcome: Outcome) -> str | None:
        """The first needed item of ``group`` (whose probe gave ``outcome``, not ``SAME``),
        the items before it cleared on the way; None when the budget runs out first."""
        while len(group) > 1:
            half = group[: len(group) // 2]
            tried = self.tried(half)
            if tried is None:
                return None
            if tried == SAME:  # the rest is what failed, with the first half gone as now
                group = group[len(group) // 2 :]
            else:
                group, outcome = half, tried
        self.kept[group[0]] = outcome
        return group[0]


def without(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The frame without ``columns``, one block per type still (as ``frame`` has them): a
    ``drop`` would leave a block per column kept, which every copy in the run consolidates."""
    taken = set(columns)
    return frame.iloc[:, [index for index, name in enumerate(frame.columns) if name not in taken]]


def moved(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The frame with the values of ``columns`` moved down one row (the last one first): same
    types and values, other rows; one block per type, as ``frame`` has them."""
    order = np.roll(np.arange(len(frame)), 1)
    rolled = frame.iloc[order].set_axis(frame.index)
    chosen = frame.columns.isin(columns)
    parts = pd.concat([frame.loc[:, ~chosen], rolled.loc[:, chosen]], axis=1)
    return parts[frame.columns].copy()


def analysable(sample: Any) -> bool:
    """Whether the sample's columns can be analysed: a pandas frame with unique text names
    (a tensor has no columns; a frame with other names has no named signature)."""
    if not isinstance(sample, pd.DataFrame) or len(sample.columns) == 0:
        return False
    names = list(sample.columns)
    return all(isinstance(name, str) for name in names) and len(set(names)) == len(names)


def find_column_use(
    sample: pd.DataFrame,
    answer: Callable[[pd.DataFrame], Any],
    same: Callable[[Any, Any], bool],
    reference: Any = None,
    budget: int = COLUMN_RUNS,
) -> ColumnUse:
    """Run ``answer`` (the pipeline) on the sample (its first ``COLUMN_ROWS`` rows) with
    columns taken away, in groups, and compare with ``reference`` (its answer on those rows,
    computed when None) with ``same``: at most ``budget`` runs beyond the reference's."""
    rows = sample if len(sample) <= COLUMN_ROWS else sample.head(COLUMN_ROWS)
    if reference is None or rows is not sample:
        try:
            reference = answer(rows)
        except Exception:  # the first rows alone fail: nothing to compare with, all required
            return ColumnUse(needed=tuple(rows.columns), rows=len(rows))
    # one block per type (a frame built column by column has a block per column, which every
    # copy and drop of the runs would consolidate again)
    rows = rows.copy()

    def outcome(frame: pd.DataFrame) -> Outcome:
        try:
            result = answer(frame)
        except Exception:  # the pipeline fails without them (any node's error)
            return FAILED
        return SAME if same(result, reference) else CHANGED

    columns = list(rows.columns)
    removal = GroupSearch(lambda group: outcome(without(rows, group)), budget)
    removal.search(columns)
    failing = [
        column
        for column, result in removal.kept.items()
        if result == FAILED and rows[column].nunique(dropna=False) > 1
    ]
    values = GroupSearch(
        lambda group: outcome(moved(rows, group)), min(HINT_RUNS, budget - removal.runs)
    )
    values.search(failing)
    return ColumnUse(
        needed=tuple(column for column in columns if column in removal.kept),
        not_read=tuple(column for column in columns if column in set(removal.cleared)),
        unchecked=tuple(column for column in columns if column in set(removal.unchecked)),
        values_unused=tuple(column for column in failing if column in set(values.cleared)),
        runs=removal.runs + values.runs,
        rows=len(rows),
    )


def with_optional_columns(signature: ModelSignature, use: ColumnUse | None) -> ModelSignature:
    """The signature with the columns the pipeline does not read made optional."""
    if use is None or not use.not_read or signature.inputs is None:
        return signature
    names = set(signature.inputs.input_names()) if signature.inputs.has_input_names() else set()
    optional = {name: False for name in use.not_read if name in names}
    if not optional:
        return signature
    return edit_signature(signature, SignatureEdits(required=optional))


def optional_columns(signature: ModelSignature | None) -> list[str]:
    """The input columns ``signature`` marks optional (none for a tensor signature)."""
    inputs = None if signature is None else signature.inputs
    if inputs is None or not inputs.has_input_names():
        return []
    return list(inputs.optional_input_names())


def example_frame(frame: Any, signature: ModelSignature, use: ColumnUse | None) -> Any:
    """The frame the input example is taken from: without the columns the pipeline does not
    read that the signature leaves optional (a column made required again stays)."""
    if use is None or not isinstance(frame, pd.DataFrame):
        return frame
    dropped = [name for name in optional_columns(signature) if name in set(use.not_read)]
    return frame.drop(columns=[name for name in dropped if name in frame.columns])
