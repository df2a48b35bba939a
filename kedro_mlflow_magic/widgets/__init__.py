"""Views over core objects: the roles view (``%kedro_inputs``) and the signature editor
(``%kedro_signature``). The editor is imported on first use, so the roles view never imports
MLflow."""

from __future__ import annotations

from typing import Any

from kedro_mlflow_magic.widgets.roles_view import RolesView, pipeline_mermaid, roles_view

__all__ = ["RolesView", "SignatureEditor", "pipeline_mermaid", "roles_view"]


def __getattr__(name: str) -> Any:
    if name == "SignatureEditor":
        from kedro_mlflow_magic.widgets.signature_editor import SignatureEditor

        return SignatureEditor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
