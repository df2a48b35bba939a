"""Intermediates released after their last reader within a call, as Kedro's runner releases
them; the output, and the values a later call needs, stay (docs/guides/profiling.md)."""

from __future__ import annotations

import weakref
from types import SimpleNamespace
from typing import Any

# What the nodes below saw while the call ran: weak references to the values they made, and
# whether the first node's value was still alive when the last node ran.
SEEN: dict[str, Any] = {}


class Value:
    """A value a weak reference can follow (a node's result)."""

    def __init__(self, number: float) -> None:
        self.number = number


def first(number: float, step: float) -> Value:
    value = Value(number + step)
    SEEN["first"] = weakref.ref(value)
    return value


def second(value: Value) -> Value:
    made = Value(value.number * 2)
    SEEN["second"] = weakref.ref(made)
    return made


def last(value: Value) -> Value:
    SEEN["first alive at last"] = SEEN["first"]() is not None
    return Value(value.number + 1)


def manifest() -> dict[str, Any]:
    from kedro_mlflow_magic.runtime import MANIFEST_FORMAT

    def node(function: str, inputs: list[str], output: str) -> dict[str, Any]:
        return {"name": function, "function": f"{__name__}:{function}", "inputs": inputs,
                "outputs": output}  # fmt: skip

    return {
        "format": MANIFEST_FORMAT, "data_input": "x", "output": "out", "output_column": None,
        "artifacts": [], "included_files": [], "versions": {},
        "nodes": [
            node("first", ["x", "params:step"], "a"),
            node("second", ["a"], "b"),
            node("last", ["b"], "out"),
        ],
        "parameters": [{"name": "step", "path": ["step"], "default": 1.0, "encoding": "plain"}],
        "parameter_inputs": {"params:step": ["step"]},
    }  # fmt: skip


def loaded(manifest: dict[str, Any]) -> Any:
    from kedro_mlflow_magic.runtime import model_config_of
    from kedro_mlflow_magic.runtime.model import PipelineModel

    model = PipelineModel()
    model.load_context(SimpleNamespace(model_config=model_config_of(manifest), artifacts={}))
    return model


def test_an_intermediate_is_freed_after_its_last_reader_and_the_output_is_not() -> None:
    SEEN.clear()
    model = loaded(manifest())
    output = model.predict(None, 1.0)
    # 'a' (read by 'second' only) was gone by the time 'last' ran; 'b' is gone after the call
    assert SEEN["first alive at last"] is False
    assert SEEN["second"]() is None
    assert isinstance(output, Value) and output.number == 5.0
    # the parameters and the plan stay: a later call answers the same way
    assert model.predict(None, 1.0).number == 5.0
    assert model.predict(None, 1.0, {"step": 2.0}).number == 7.0


def test_the_plan_releases_each_produced_value_after_its_last_reader() -> None:
    from kedro_mlflow_magic.runtime.copies import release_plan

    steps = [
        (["x", "params:step"], ["a"]),
        (["a"], ["b", "unused"]),  # 'unused' is read by nobody: released right away
        (["a", "b"], ["c"]),
        (["c", "x"], ["out"]),
    ]
    # never the data input, the parameters or the output
    assert release_plan(steps, kept={"out"}) == [(), ("unused",), ("a", "b"), ("c",)]
    # a transcoded name is its dataset's value
    assert release_plan([([], ["d@pandas"]), (["d@spark"], ["out"])], {"out"}) == [(), ("d",)]
