"""A signature in a log's summary, compactly: a section (inputs, outputs, parameters) of more
than ``SECTION_LINES`` lines becomes one line that counts them and says how to see them all;
a parameter default that holds a credential is shown masked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kedro_mlflow_magic.errors import masked_url

SECTION_LINES = 10
NOUNS = {"inputs": "columns", "outputs": "columns", "params": "parameters"}


def section_lines(section: str, specs: Sequence[Any], model_uri: str | None = None) -> list[str]:
    """One line per column or parameter, or for a long section its count and where to see
    them all (``mlflow.models.get_model_info(...).signature``)."""
    if len(specs) <= SECTION_LINES:
        return [masked_url(str(spec)) for spec in specs]
    noun = NOUNS.get(section, "items")
    counted = f"{len(specs)} {noun}"
    if section == "inputs" and all(hasattr(spec, "required") for spec in specs):
        optional = sum(1 for spec in specs if not spec.required)
        if optional:
            counted += f" ({len(specs) - optional} required, {optional} optional)"
    where = f"'{model_uri}'" if model_uri else "MODEL_URI"
    return [f"{counted}; all of them: mlflow.models.get_model_info({where}).signature.{section}"]
