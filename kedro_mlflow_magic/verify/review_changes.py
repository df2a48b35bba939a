"""What changed between two logged models, section by section: the signature (each input column
marked breaking or not), parameters' defaults, nodes (by source digest), artifacts (by file
digest), requirements and versions. Plain functions over what each model's folder holds; what
one side does not record is said, not guessed.

Breaking means a caller of the model before could fail on the model after: a required input
column added (or an optional one made required), an input column's type changed other than
widened as MLflow's schema enforcement widens (integer to long or double, float to double),
the output's columns or types changed, a parameter removed or its type changed. Removing an
input column (a caller's extra columns are accepted) or adding an optional one is not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mlflow.models import ModelSignature
from mlflow.types import DataType, TensorSpec
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from kedro_mlflow_magic.display import short_value
from kedro_mlflow_magic.runtime import Manifest

SIGNATURE, PARAMETERS, NODES, ARTIFACTS, REQUIREMENTS, VERSIONS = (
    "signature", "parameters", "nodes", "artifacts", "requirements", "versions",
)  # fmt: skip
SECTIONS = (SIGNATURE, PARAMETERS, NODES, ARTIFACTS, REQUIREMENTS, VERSIONS)
# the type changes MLflow's schema enforcement accepts from a caller (before -> after)
WIDENINGS = {
    (DataType.integer, DataType.long),
    (DataType.integer, DataType.double),
    (DataType.float, DataType.double),
}


@dataclass(frozen=True)
class Change:
    """One change: its section, what changed (``input column 'plan'``), how, and whether a
    caller of the model before could break on the model after."""

    section: str
    subject: str
    detail: str
    breaking: bool = False

    def __str__(self) -> str:
        return f"{self.subject}: {self.detail}" + (" (breaking)" if self.breaking else "")


def type_name(spec: Any) -> str:
    """A column's or tensor's type as the signature shows it (``long``, ``float64 (-1, 3)``)."""
    if isinstance(spec, TensorSpec):
        return f"{spec.type} {spec.shape}"
    kind = spec.type
    return kind.name if isinstance(kind, DataType) else str(kind)


def specs_by_name(schema: Any) -> dict[str, Any]:
    """A schema's columns (or tensors) by name; an unnamed one by its position (``#0``)."""
    if schema is None:
        return {}
    return {
        spec.name if spec.name is not None else f"#{index}": spec
        for index, spec in enumerate(schema.inputs)
    }


def input_changes(before: Any, after: Any) -> list[Change]:
    """The input schema, column by column."""
    old, new = specs_by_name(before), specs_by_name(after)
    changes = []
    for name, spec in new.items():
        subject = f"input column '{name}'"
        required = getattr(spec, "required", True)
        if name not in old:
            state = "required" if required else "optional"
            changes.append(
                Change(SIGNATURE, subject, f"added, {state} ({type_name(spec)})", required)
            )
            continue
        previous = old[name]
        was, now = type_name(previous), type_name(spec)
        if was != now:
            widened = (previous.type, spec.type) in WIDENINGS
            how = "widened" if widened else "changed"
            changes.append(Change(SIGNATURE, subject, f"type {how}: {was} -> {now}", not widened))
        was_required = getattr(previous, "required", True)
        if required != was_required:
            detail = "now required" if required else "now optional"
            changes.append(Change(SIGNATURE, subject, detail, required))
    changes += [
        Change(SIGNATURE, f"input column '{name}'", f"removed ({type_name(spec)}; a caller may still send it)")
        for name, spec in old.items()
        if name not in new
    ]  # fmt: skip
    return changes


def output_changes(before: Any, after: Any) -> list[Change]:
    """The output schema: any column added, removed or retyped breaks a caller."""
    old, new = specs_by_name(before), specs_by_name(after)
    changes = [
        Change(SIGNATURE, f"output column '{name}'", f"added ({type_name(spec)})", True)
        for name, spec in new.items()
        if name not in old
    ]
    changes += [
        Change(SIGNATURE, f"output column '{name}'", f"removed ({type_name(spec)})", True)
        for name, spec in old.items()
        if name not in new
    ]
    changes += [
        Change(SIGNATURE, f"output column '{name}'", f"type {type_name(old[name])} -> {type_name(spec)}", True)
        for name, spec in new.items()
        if name in old and type_name(old[name]) != type_name(spec)
    ]  # fmt: skip
    return changes


def parameter_type(spec: Any) -> str:
    kind = spec.dtype.name if isinstance(spec.dtype, DataType) else str(spec.dtype)
    return kind if spec.shape is None else f"list of {kind}"


def parameter_changes(before: Any, after: Any) -> list[Change]:
    """The parameter schema: removed or retyped parameters break a caller that passes them;
    added ones do not; changed defaults are listed on their own."""
    old = {spec.name: spec for spec in (before.params if before is not None else [])}
    new = {spec.name: spec for spec in (after.params if after is not None else [])}
    changes = []
    for name, spec in new.items():
        subject = f"parameter '{name}'"
        if name not in old:
            added = f"added ({parameter_type(spec)}, default {short_value(spec.default)})"
            changes.append(Change(SIGNATURE, subject, added))
        elif parameter_type(old[name]) != parameter_type(spec):
            retyped = f"type {parameter_type(old[name])} -> {parameter_type(spec)}"
            changes.append(Change(SIGNATURE, subject, retyped, True))
        elif old[name].default != spec.default:
            was, now = short_value(old[name].default), short_value(spec.default)
            changes.append(Change(PARAMETERS, name, f"default {was} -> {now}"))
    changes += [
        Change(SIGNATURE, f"parameter '{name}'", "removed", True) for name in old if name not in new
    ]
    return changes


def signature_changes(before: ModelSignature | None, after: ModelSignature | None) -> list[Change]:
    """Inputs, outputs and parameters of two signatures (None: the model has none)."""
    return [
        *input_changes(getattr(before, "inputs", None), getattr(after, "inputs", None)),
        *output_changes(getattr(before, "outputs", None), getattr(after, "outputs", None)),
        *parameter_changes(getattr(before, "params", None), getattr(after, "params", None)),
    ]


def node_changes(before: Manifest, after: Manifest) -> tuple[list[Change], bool]:
    """Nodes added, removed, or whose function, source or wiring changed; and whether some
    node's source could not be compared (a side without its digest)."""
    old = {node["name"]: node for node in before["nodes"]}
    new = {node["name"]: node for node in after["nodes"]}
    changes = [
        Change(NODES, name, f"added ({node['function']})")
        for name, node in new.items()
        if name not in old
    ]
    changes += [Change(NODES, name, "removed") for name in old if name not in new]
    unknown = False
    for name, node in new.items():
        if name not in old:
            continue
        previous = old[name]
        if previous["function"] != node["function"]:
            changes.append(
                Change(NODES, name, f"function {previous['function']} -> {node['function']}")
            )
        digests = previous.get("source_sha256"), node.get("source_sha256")
        if None in digests:
            unknown = True
        elif digests[0] != digests[1]:
            changes.append(Change(NODES, name, "source changed"))
        for side in ("inputs", "outputs"):
            if previous[side] != node[side]:
                changes.append(Change(NODES, name, f"{side} {previous[side]} -> {node[side]}"))
    for key, label in (("data_input", "data input"), ("output", "output")):
        if before[key] != after[key]:
            changes.append(Change(NODES, label, f"'{before[key]}' -> '{after[key]}'"))
    return changes, unknown


def artifact_changes(before: Manifest, after: Manifest) -> tuple[list[Change], bool]:
    """Artifacts added, removed, retyped, with other load settings, or whose files' digests
    differ; and whether some artifact's content could not be compared."""
    old = {entry["dataset"]: entry for entry in before["artifacts"]}
    new = {entry["dataset"]: entry for entry in after["artifacts"]}
    changes = [
        Change(ARTIFACTS, name, f"added ({entry['type']})")
        for name, entry in new.items()
        if name not in old
    ]
    changes += [Change(ARTIFACTS, name, "removed") for name in old if name not in new]
    unknown = False
    for name, entry in new.items():
        if name not in old:
            continue
        previous = old[name]
        if previous["type"] != entry["type"]:
            changes.append(Change(ARTIFACTS, name, f"type {previous['type']} -> {entry['type']}"))
        if previous["config"] != entry["config"]:
            changes.append(Change(ARTIFACTS, name, "load settings changed"))
        digests = previous.get("sha256"), entry.get("sha256")
        if digests[0] is None or digests[1] is None:
            unknown = True
        elif digests[0] != digests[1]:
            files = sorted(
                path
                for path in set(digests[0]) | set(digests[1])
                if digests[0].get(path) != digests[1].get(path)
            )
            changes.append(Change(ARTIFACTS, name, f"content changed ({', '.join(files)})"))
    return changes, unknown


def parsed_requirements(lines: Sequence[str]) -> dict[str, str]:
    """Requirement lines by distribution name (canonical), each as written."""
    parsed = {}
    for line in lines:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            parsed[line] = line
            continue
        parsed[canonicalize_name(requirement.name)] = str(requirement)
    return parsed


def without_name(requirement: str) -> str:
    """A requirement's specifier, extras and markers (``==1.6.1``), its name left out."""
    try:
        name = Requirement(requirement).name
    except InvalidRequirement:
        return requirement
    return requirement[len(name) :].strip() or "(any version)"


def requirement_changes(before: Sequence[str], after: Sequence[str]) -> list[Change]:
    old, new = parsed_requirements(before), parsed_requirements(after)
    changes = [
        Change(REQUIREMENTS, name, f"added ({new[name]})") for name in new if name not in old
    ]
    changes += [
        Change(REQUIREMENTS, name, f"removed ({old[name]})") for name in old if name not in new
    ]
    changes += [
        Change(REQUIREMENTS, name, f"{without_name(old[name])} -> {without_name(new[name])}")
        for name in new
        if name in old and old[name] != new[name]
    ]  # fmt: skip
    return changes


def version_changes(before: Mapping[str, str], after: Mapping[str, str]) -> list[Change]:
    """Python, Kedro, kedro-datasets and MLflow versions the models were logged with."""
    return [
        Change(VERSIONS, name, f"{before.get(name, 'unknown')} -> {after.get(name, 'unknown')}")
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    ]
