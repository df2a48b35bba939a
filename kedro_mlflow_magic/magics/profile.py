"""``%kedro_predict ... --profile``: the model's profile shown under the prediction."""

from __future__ import annotations

from typing import Any

from kedro_mlflow_magic.magics.common import show


def show_profile_under_result(model_uri: str, frame: Any, params: dict[str, Any]) -> None:
    """Profile the model on ``frame`` and show the table once the cell has shown its result
    (IPython's ``post_run_cell``), so that it sits under the prediction; at once outside a
    shell."""
    from IPython import get_ipython

    from kedro_mlflow_magic.tracking.profile import profile_model

    profile = profile_model(model_uri, frame, params=params)
    shell = get_ipython()
    if shell is None:
        show(profile)
        return

    def once(*_: Any) -> None:
        shell.events.unregister("post_run_cell", once)
        show(profile)

    shell.events.register("post_run_cell", once)
