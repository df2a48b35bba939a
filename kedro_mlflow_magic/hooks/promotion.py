"""``LogModelHook(promote_to=ALIAS)``: the version a run logged moves to the alias through
``promote_model``'s review, as ``%kedro_promote`` would move it."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kedro_mlflow_magic.build.logged import LoggedModel

logger = logging.getLogger("kedro_mlflow_magic")


def promote_logged(logged: LoggedModel, alias: str | None) -> None:
    """Promote the registered version of ``logged`` to ``alias`` (nothing without an alias);
    ``PromotionRefusedError`` when the review refuses it (the version stays registered)."""
    if not alias or logged.registered_version is None:
        return
    from kedro_mlflow_magic.tracking.promotion import promote_model

    promotion = promote_model(
        f"models:/{logged.registered_model_name}/{logged.registered_version}", alias
    )
    logger.info("Promoted %s: %s", promotion.model_uri, promotion.headline)
