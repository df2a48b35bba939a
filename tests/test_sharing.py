"""Which artifacts the runtime copies per call, hands out read-only or shares (runtime/sharing.py):
decided by size for plain containers and arrays (no timing), so the same artifact always gets
the same treatment."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import numpy as np
import pytest

from kedro_mlflow_magic.runtime.sharing import (
    copier_for,
    hand_out_read_only,
    shallow_copy,
)


@pytest.fixture
def location(tmp_path: Path):
    def write(value) -> str:
        path = tmp_path / "value.pkl"
        path.write_bytes(pickle.dumps(value))
        return str(path)

    return write


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"paris": 1, "oslo": 2}, shallow_copy),
        ({f"word-{index}": index for index in range(1000)}, shallow_copy),
        (["basic", "plus"], shallow_copy),
        ({"cities": {"paris": 1}, "offset": 0.5}, copy.deepcopy),
        (np.ones(100), np.ndarray.copy),
        ({f"word-{index}": index for index in range(1001)}, None),
        ({"cities": {f"c{index}": index for index in range(20)}}, None),
        (("a", ("b", 1)), None),
        (np.ones(100_000), None),
        (3.5, None),
        ("text", None),
    ],
)
def test_what_is_copied_per_call_is_decided_by_size(value, expected, location) -> None:
    assert copier_for(value, location(value)) is expected


def test_each_copy_is_a_value_of_its_own(location) -> None:
    vocabulary = {"paris": 1}
    copied = copier_for(vocabulary, location(vocabulary))(vocabulary)
    copied["lima"] = 2
    assert vocabulary == {"paris": 1}
    settings = {"cities": {"paris": 1}}
    deep = copier_for(settings, location(settings))(settings)
    deep["cities"]["lima"] = 2
    assert settings == {"cities": {"paris": 1}}


def test_an_mlflow_model_is_never_copied() -> None:
    assert copier_for({"paris": 1}, None) is None


def test_a_large_array_is_handed_out_read_only() -> None:
    weights = np.ones(100_000)
    assert hand_out_read_only(weights)
    with pytest.raises(ValueError, match="read-only"):
        weights *= 2
    assert not hand_out_read_only({"paris": 1})
