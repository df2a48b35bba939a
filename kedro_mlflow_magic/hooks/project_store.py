"""A Kedro hook, loaded through the ``kedro.hooks`` entry point, that makes kedro-mlflow open
the project's store wherever the session starts
(``docs/explanation/behaviour.md#beside-kedro-mlflow``).

kedro-mlflow's own hook passes a relative sqlite URI of ``mlflow.yml`` (``sqlite:///mlruns.db``)
to MLflow as it is, so SQLite opens it from the current folder: ``<notebook folder>/mlruns.db``
from a notebook, ``<project>/mlruns.db`` from ``kedro run``. This hook runs first and hands
kedro-mlflow the same setting made absolute from the project root: one store. It does nothing
in a project without such a URI, and imports neither MLflow nor kedro-mlflow.
Disable it like any plugin hook: ``DISABLE_HOOKS_FOR_PLUGINS = ("kedro-mlflow-magic",)``.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

from kedro_mlflow_magic.tracking.store import (
    MLFLOW_CONFIG_PATTERNS,
    from_project_root,
    is_relative_sqlite,
)

logger = logging.getLogger(__name__)


class ProjectStoreHook:
    """Resolve kedro-mlflow's relative sqlite URIs from the project root, before its hook reads
    them (``tryfirst``)."""

    @hook_impl(tryfirst=True)
    def after_context_created(self, context: Any) -> None:
        loader = context.config_loader
        try:
            if "mlflow" not in loader.config_patterns:
                loader.config_patterns.update({"mlflow": MLFLOW_CONFIG_PATTERNS})
            settings = loader["mlflow"]
        except Exception:  # no mlflow.yml (or one kedro-mlflow will complain about itself)
            return
        server = (settings or {}).get("server") or {}
        root = Path(context.project_path)
        resolved = {
            key: from_project_root(str(server[key]), root)
            for key in ("mlflow_tracking_uri", "mlflow_registry_uri")
            if server.get(key) and is_relative_sqlite(str(server[key]))
        }
        if not resolved:
            return
        settings = copy.deepcopy(dict(settings))
        settings["server"] = {**server, **resolved}
        # An explicitly set key bypasses the files (OmegaConfigLoader.__getitem__).
        loader["mlflow"] = settings
        logger.debug("kedro-mlflow's store resolved from the project root: %s", resolved)


project_store_hook = ProjectStoreHook()
