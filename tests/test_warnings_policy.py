"""The suite's warnings policy (``filterwarnings`` in ``pyproject.toml``): a warning raised in our
own package fails the test that raised it; the third-party warnings the suite expects are
ignored by name only, so another warning from the same library still shows."""

from __future__ import annotations

import warnings

import pytest


def warn_from(module: str, message: str, category: type[Warning]) -> None:
    """``warnings.warn`` called from code of ``module``, as that module's own call would be."""
    code = compile("warnings.warn(message, category, stacklevel=1)", f"{module}.py", "exec")
    exec(code, {"__name__": module, "warnings": warnings, "message": message, "category": category})


@pytest.mark.parametrize("category", [UserWarning, DeprecationWarning, FutureWarning])
def test_a_warning_raised_in_our_package_is_an_error(category: type[Warning]) -> None:
    with pytest.raises(category, match="ours"):
        warn_from("kedro_mlflow_magic.build.signature", "ours", category)


def test_third_party_warnings_are_ignored_by_name_and_others_still_show() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warn_from(
            "kedro.config.omegaconf_config",
            "register_new_resolver() is deprecated and will be removed in a future release.",
            UserWarning,
        )
        warn_from(
            "mlflow.types.utils", "Hint: Inferred schema contains integer column(s).", UserWarning
        )
        assert caught == []
        warn_from("kedro.config.omegaconf_config", "something else", UserWarning)
        warn_from("mlflow.types.utils", "a deprecation", DeprecationWarning)
    assert [str(warning.message) for warning in caught] == ["something else", "a deprecation"]
