"""A model's profile shown as a table: each part of a call (node, conversion, the runtime's
own code, MLflow's), its median time per call and its share of the whole, slowest first."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from kedro_mlflow_magic.display import CELL, facts_html, facts_text

HEADINGS = ("part", "kind", "time per call", "share")


def seconds_text(seconds: float) -> str:
    """A duration in µs, ms or s, three significant digits or so."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def table_rows(profile: Any) -> list[tuple[str, str, str, str]]:
    """(part, kind, time, share) for each row of the profile (``Profile.rows``)."""
    return [
        (name, kind, seconds_text(seconds), f"{share:.1%}")
        for name, kind, seconds, share in profile.rows()
    ]


def profile_facts(profile: Any) -> list[tuple[str, str]]:
    return [
        ("profile of", profile.model_uri),
        ("calls", f"{profile.calls} on {profile.input_size}"),
        ("whole call", f"{seconds_text(profile.total)} (median)"),
    ]


def table_text(rows: Sequence[Sequence[str]]) -> str:
    """Rows under ``HEADINGS``, columns aligned (names left, numbers right)."""
    table = [HEADINGS, *rows]
    widths = [max(len(row[column]) for row in table) for column in range(len(HEADINGS))]
    lines = []
    for row in table:
        name, kind, time, share = (str(cell) for cell in row)
        lines.append(
            f"{name:<{widths[0]}}  {kind:<{widths[1]}}  {time:>{widths[2]}}  {share:>{widths[3]}}"
        )
    return "\n".join(lines)


def profile_text(profile: Any) -> str:
    return f"{facts_text(profile_facts(profile))}\n{table_text(table_rows(profile))}"


def profile_html(profile: Any) -> str:
    right = CELL.replace("text-align:left", "text-align:right")
    head = "".join(
        f"<th {right if index > 1 else CELL}>{escape(heading)}</th>"
        for index, heading in enumerate(HEADINGS)
    )
    body = "".join(
        f"<tr><td {CELL}><code>{escape(name)}</code></td><td {CELL}>{escape(kind)}</td>"
        f"<td {right}>{escape(time)}</td><td {right}>{escape(share)}</td></tr>"
        for name, kind, time, share in table_rows(profile)
    )
    return (
        facts_html(profile_facts(profile))
        + f'<table class="kedro-mlflow-profile"><thead><tr>{head}</tr></thead>'
        + f"<tbody>{body}</tbody></table>"
    )
