"""The steps of logging a model, named once: the core reports them, the faces show them."""

from __future__ import annotations

from collections.abc import Callable

COLLECTING = "collecting artifacts"
INFERRING = "inferring the signature"
LOGGING = "logging"
VERIFYING = "verifying"
REGISTERING = "registering"
# after the log, when asked (--check-env): the model in a fresh environment of its requirements
CHECKING_ENVIRONMENT = "checking its environment"
DONE = "done"

# In the order they happen; registering happens only when a registered name is given.
LOG_STEPS = (COLLECTING, INFERRING, LOGGING, VERIFYING, REGISTERING)

Progress = Callable[[str], None]


def no_progress(step: str) -> None:
    """The progress callback used when nobody watches."""


def steps_for(registering: bool, checking: bool = False) -> tuple[str, ...]:
    """The steps one log goes through (and the environment check after it, when asked)."""
    steps = LOG_STEPS if registering else tuple(s for s in LOG_STEPS if s != REGISTERING)
    return (*steps, CHECKING_ENVIRONMENT) if checking else steps
