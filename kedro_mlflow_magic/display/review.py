"""The review of two models (``ModelDiff``) and a promotion (``Promotion``), as text and HTML:
the verdict and the two models as label/value lines, then each section's changes, what could
not be compared, and the first rows whose answers differ."""

from __future__ import annotations

from html import escape
from typing import Any

from kedro_mlflow_magic.display import ROLE_COLOURS, facts_html, facts_text


def diff_facts(diff: Any) -> list[tuple[str, str]]:
    facts = [("review", diff.verdict), ("before", diff.before), ("after", diff.after)]
    if diff.predictions is not None:
        facts.append(("answers compared on", diff.predictions.on))
    return facts


def versions_line(diff: Any) -> list[str]:
    """Each version as ``name X`` when both models have it, ``name X -> Y`` when it changed."""
    return [
        f"{name} {before}" if before == after else f"{name} {before or 'unknown'} -> {after or 'unknown'}"
        for name, (before, after) in diff.versions.items()
    ]  # fmt: skip


def diff_sections(diff: Any) -> list[tuple[str, list[str]]]:
    sections = [
        (name, [str(change) for change in changes])
        for name, changes in diff.sections
        if name != "versions"
    ]
    if not sections:
        sections.append(("changes", ["none"]))
    if diff.versions:
        sections.append(("versions", [", ".join(versions_line(diff))]))
    if diff.unknown:
        sections.append(("unknown", list(diff.unknown)))
    return sections


def differing_rows(diff: Any) -> Any:
    rows = diff.predictions.differing_rows if diff.predictions is not None else None
    return rows if rows is not None and not rows.empty else None


def diff_text(diff: Any) -> str:
    text = facts_text(diff_facts(diff), diff_sections(diff))
    rows = differing_rows(diff)
    if rows is not None:
        text += f"\nfirst rows that differ:\n{rows.to_string()}"
    return text


def verdict_colour(good: bool) -> str:
    return ROLE_COLOURS["data input"] if good else ROLE_COLOURS["problem"]


def diff_html(diff: Any) -> str:
    good = not diff.breaking and diff.predictions is not None and diff.predictions.agree
    html = facts_html(diff_facts(diff), diff_sections(diff), colour=verdict_colour(good))
    rows = differing_rows(diff)
    if rows is not None:
        html += "<p>first rows that differ:</p>" + rows.to_html()
    return html


def promotion_facts(promotion: Any) -> list[tuple[str, str]]:
    return [
        ("promotion", promotion.headline),
        ("model", f"models:/{promotion.name}/{promotion.version}"),
        ("alias", promotion.alias),
        ("replaced", f"version {promotion.replaced}" if promotion.replaced else "none"),
    ]


def promotion_text(promotion: Any) -> str:
    text = facts_text(promotion_facts(promotion))
    if promotion.diff is not None:
        text += "\n\n" + diff_text(promotion.diff)
    return text


def promotion_html(promotion: Any) -> str:
    colour = verdict_colour(not promotion.forced)
    html = facts_html(promotion_facts(promotion), colour=colour)
    if promotion.diff is not None:
        html += f"<p>{escape('the review:')}</p>" + diff_html(promotion.diff)
    return html
