"""The Kedro hooks: ``LogModelHook``, opt-in in a project's ``settings.py``, logs a pipeline after
each successful ``kedro run``; the project-store hook, registered through entry points, makes
kedro-mlflow open the project's store wherever a session starts.

``LogModelHook`` is imported on first use, so that the entry-point hook stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LogModelHook"]


def __getattr__(name: str) -> Any:
    if name == "LogModelHook":
        from kedro_mlflow_magic.hooks.log_model import LogModelHook

        return LogModelHook
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
