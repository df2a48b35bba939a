"""Parameter defaults that should not travel as they are: an absolute path on this machine (a
model served elsewhere will not find it) and a URI holding a credential (the signature writes
it into the model, for anyone who reads it). The log's summary notes each one with its fix,
never printing the credential (see the serving-contract guide)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from kedro_mlflow_magic.build.signature import ParameterLeaf
from kedro_mlflow_magic.errors import SECRET_QUERY_KEYS, masked_url

SECRET_QUERY = re.compile(rf"^({SECRET_QUERY_KEYS})$", re.IGNORECASE)
WINDOWS_PATH = re.compile(r"^[A-Za-z]:[\\/]")


def texts(value: Any) -> Iterator[str]:
    """The text values of a parameter's default (a list's items too)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from texts(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from texts(item)


def is_absolute_local_path(text: str) -> bool:
    """``/home/ana/images``, ``~/data``, ``C:\\data``, ``file:///home/ana/images``; not a URL
    of another scheme (``s3://...``), not a relative path."""
    text = text.strip()
    if text.startswith("file:/"):
        return True
    if text.startswith("/") and not text.startswith("//"):
        return len(text) > 1
    return text.startswith("~/") or bool(WINDOWS_PATH.match(text))


def holds_credential(text: str) -> bool:
    """A URI with a password (``scheme://user:password@host``) or a secret query value."""
    try:
        parts = urlsplit(text.strip())
    except ValueError:
        return False
    if not parts.scheme or not parts.netloc:
        return False
    if parts.password:
        return True
    return any(SECRET_QUERY.match(key) and value for key, value in parse_qsl(parts.query))


def parameter_notes(leaves: list[ParameterLeaf]) -> list[str]:
    """One note per parameter whose default is an absolute local path or holds a credential."""
    notes = []
    for leaf in leaves:
        values = list(texts(leaf.value))
        secret = next((text for text in values if holds_credential(text)), None)
        if secret is not None:
            notes.append(
                f"parameter '{leaf.name}' holds a credential in its default "
                f"({masked_url(secret)}), which the signature writes into the model for anyone "
                "who can read it: keep the secret out of parameters.yml (the node can read it "
                "from an environment variable where the model runs) and log again"
            )
            continue
        path = next((text for text in values if is_absolute_local_path(text)), None)
        if path is not None:
            notes.append(
                f"parameter '{leaf.name}' defaults to an absolute path on this machine "
                f"({path}), which a model served elsewhere will not find: give it per call "
                f"(params={{'{leaf.name}': ...}}, --params {leaf.name}=...), or make those files "
                "a catalog dataset so that they ship with the model"
            )
    return notes
