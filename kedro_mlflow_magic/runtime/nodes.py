"""Nodes as steps: each manifest node compiled, at load time, into a function that reads its
inputs from the call's values and writes its outputs back, calling the node function the way
Kedro does. What a step reads from where (the values, its own copies, a writable copy) is
decided here, once, so that a call is dict lookups."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Collection
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from .copies import NO_COPIES, Data, Pending, StepCopies, make_copies, writable_value
from .manifest import NodeEntry, NodeInterface, dataset_key, interface_names
from .sharing import changed_read_only

Step = Callable[[Data, Pending], None]
# one input of a node: (the call's values, the node's own copies) -> the value it gets
Read = Callable[[Data, Data], Any]


def import_function(reference: str) -> Callable[..., Any]:
    """Import ``module:qualname`` (the form the manifest uses for node functions)."""
    module_name, _, qualname = reference.partition(":")
    target: Any = importlib.import_module(module_name)
    for attribute in qualname.split("."):
        target = getattr(target, attribute)
    return target


def reader(key: str, copies: StepCopies) -> Read:
    """How a node reads the input ``key``: its own copy, a writable copy, or the value."""
    if key in copies.copied:
        return lambda data, own: own[key]
    if key in copies.writable:
        return lambda data, own: writable_value(data[key])
    return lambda data, own: data[key]


def plain_call(function: Callable[..., Any], inputs: NodeInterface) -> Callable[[Data], Any]:
    """The call of a node that reads every input as it is in the values (the usual case)."""
    if inputs is None:
        return lambda data: function()
    if isinstance(inputs, str):
        key = dataset_key(inputs)
        return lambda data: function(data[key])
    if isinstance(inputs, list):
        keys = [dataset_key(item) for item in inputs]
        return lambda data: function(*[data[key] for key in keys])
    keyword_keys = {argument: dataset_key(item) for argument, item in inputs.items()}
    return lambda data: function(**{arg: data[key] for arg, key in keyword_keys.items()})


def copying_call(
    function: Callable[..., Any], inputs: NodeInterface, copies: StepCopies
) -> Callable[[Data, Data], Any]:
    """The call of a node that reads some inputs from its own or writable copies."""
    if isinstance(inputs, str):
        read = reader(dataset_key(inputs), copies)
        return lambda data, own: function(read(data, own))
    if isinstance(inputs, list):
        reads = [reader(dataset_key(item), copies) for item in inputs]
        return lambda data, own: function(*[read(data, own) for read in reads])
    assert isinstance(inputs, dict)  # a node with copies has inputs
    keyword_reads = {
        argument: reader(dataset_key(item), copies) for argument, item in inputs.items()
    }
    return lambda data, own: function(
        **{argument: read(data, own) for argument, read in keyword_reads.items()}
    )


def store_outputs(outputs: NodeInterface) -> Callable[[Data, Any], None]:
    """How a node's result goes into the values, by the form its outputs were declared in."""
    if outputs is None:
        return lambda data, result: None
    if isinstance(outputs, str):
        output_key = dataset_key(outputs)

        def store_one(data: Data, result: Any) -> None:
            data[output_key] = result

        return store_one
    if isinstance(outputs, list):
        output_keys = [dataset_key(item) for item in outputs]

        def store_list(data: Data, result: Any) -> None:
            if len(result) != len(output_keys):
                raise ValueError(
                    f"returned {len(result)} outputs where the node declares {len(output_keys)}"
                )
            data.update(zip(output_keys, result, strict=True))

        return store_list
    output_map = {key: dataset_key(item) for key, item in outputs.items()}

    def store_dict(data: Data, result: Any) -> None:
        for result_key, output_key in output_map.items():
            data[output_key] = result[result_key]

    return store_dict


def failure_of(name: str, reads_read_only: list[str]) -> Callable[[Exception], MlflowException]:
    """The error of a failed call of node ``name``, naming the node (and the read-only
    artifact it tried to change)."""

    def failure(error: Exception) -> MlflowException:
        if reads_read_only and changed_read_only(error):
            artifacts = "', '".join(reads_read_only)
            return MlflowException(
                f"node '{name}' failed writing into the artifact '{artifacts}', which the "
                "model hands out read-only so that no call changes the answers of later "
                "calls: let the node change a copy (.copy()). "
                f"{type(error).__name__}: {error}",
                error_code=INVALID_PARAMETER_VALUE,
            )
        return MlflowException(
            f"node '{name}' failed: {type(error).__name__}: {error}",
            error_code=INVALID_PARAMETER_VALUE,
        )

    return failure


def compile_step(
    node: NodeEntry,
    function: Callable[..., Any],
    copies: StepCopies = NO_COPIES,
    read_only: Collection[str] = (),
    released: tuple[str, ...] = (),
) -> Step:
    """Turn one manifest node into a step over the call's values; ``copies``: the node's own
    copies of its inputs, and the copies of its outputs it makes for others (see
    ``copies.copy_plan`` and ``copies.schedule_copies``); ``read_only``: the artifacts handed
    out read-only (``sharing``), named when the node fails changing one; ``released``: the
    values dropped once it has run (``copies.release_plan``)."""
    name = node["name"]
    reads_read_only = sorted(
        {dataset_key(item) for item in interface_names(node["inputs"])} & set(read_only)
    )
    index, copied, writable, made_after = copies

    failure = failure_of(name, reads_read_only)

    inputs, outputs = node["inputs"], node["outputs"]
    if (
        not copied
        and not made_after
        and isinstance(outputs, str)
        and isinstance(inputs, (str, list))
    ):
        # The usual node (a name or a list in, one name out, no copies of its own): one
        # function per node, so that a call costs a fraction of a microsecond per node.
        keys = [dataset_key(item) for item in interface_names(inputs)]
        return fused_step(function, keys, writable, dataset_key(outputs), failure, released)

    store = store_outputs(outputs)
    if copied or writable:
        call = copying_call(function, inputs, copies)
        empty: Data = {}

        def run(data: Data, pending: Pending) -> None:
            store(data, call(data, pending.pop(index, empty)))
    else:
        plain = plain_call(function, inputs)

        def run(data: Data, pending: Pending) -> None:
            store(data, plain(data))

    def step(data: Data, pending: Pending) -> None:
        try:
            run(data, pending)
            if made_after:
                make_copies(data, made_after, pending)
        except MlflowException:
            raise
        except Exception as error:
            raise failure(error) from error
        for key in released:
            del data[key]

    return step


def fused_step(
    function: Callable[..., Any],
    keys: list[str],
    writable: Collection[str],
    output_key: str,
    failure: Callable[[Exception], MlflowException],
    released: tuple[str, ...] = (),
) -> Step:
    """The step of a node called with positional inputs (each as it is in the values, or a
    writable copy of it when it is a read-only array: ``writable``) and storing one output,
    then dropping the ``released`` values: one function, made for the node's shape (see
    ``step_maker``), its dataset keys bound to it."""
    checked = tuple(key in writable for key in keys)
    make = step_maker(checked, len(released))
    return make(function, failure, writable_value, MlflowException, output_key, *keys, *released)


@functools.lru_cache(maxsize=256)
def step_maker(checked: tuple[bool, ...], releases: int) -> Callable[..., Step]:
    """A maker of steps of one shape: as many inputs as ``checked`` (True: read as a writable
    copy when it is a read-only array), one output, ``releases`` values dropped after.

    Written as source text and compiled once per shape (as ``dataclasses`` writes its
    methods), so that a step names each key it reads: a call builds no argument list and
    loops over nothing: about half the cost per node of a generic step. Only names made
    here enter the source; the keys are bound as the maker's arguments."""
    inputs = [f"key_{index}" for index in range(len(checked))]
    dropped = [f"released_{index}" for index in range(releases)]
    arguments = ", ".join(
        f"writable_value(data[{name}])" if check else f"data[{name}]"
        for name, check in zip(inputs, checked, strict=True)
    )
    name = "checked_step" if any(checked) else "plain_step"
    parameters = ", ".join(
        ["function", "failure", "writable_value", "MlflowException", "output", *inputs, *dropped]
    )
    source = "\n".join(
        [
            f"def make({parameters}):",
            f"    def {name}(data, pending):",
            "        try:",
            f"            data[output] = function({arguments})",
            "        except MlflowException:",
            "            raise",
            "        except Exception as error:",
            "            raise failure(error) from error",
            *(f"        del data[{key}]" for key in dropped),
            f"    return {name}",
        ]
    )
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<{name} maker>", "exec"), namespace)
    return namespace["make"]
