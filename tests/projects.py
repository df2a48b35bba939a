"""Writing real Kedro projects for the tests: one writer, used by the ``make_project`` fixture
and by the module-scoped projects of the load and property tests."""

from __future__ import annotations

import pickle
import textwrap
import uuid
from importlib.metadata import version
from pathlib import Path
from typing import Any

from model_files import plant_package_secrets

PYPROJECT = """\
[tool.kedro]
package_name = "{package}"
project_name = "{package}"
kedro_init_version = "{kedro_version}"
source_dir = "src"
"""

SETTINGS = '"""Default settings."""\n'


def write_project(
    root: Path,
    nodes: str,
    pipelines: str,
    catalog: str = "",
    parameters: str = "",
    credentials: str = "",
    files: dict[str, str] | None = None,
    pickles: dict[str, Any] | None = None,
    package: str | None = None,
) -> Path:
    """Write a Kedro project into ``root`` and return it.

    ``nodes`` is the source of ``<package>/nodes.py``; ``pipelines`` the body of
    ``register_pipelines()`` (``node``, ``pipeline`` and ``nodes`` are imported), returning a dict;
    ``files`` and ``pickles`` are written at their paths relative to the root. Without
    ``package``, a unique package name lets several projects live in one test process.
    """
    package = package or f"project_{uuid.uuid4().hex[:10]}"
    source = root / "src" / package
    source.mkdir(parents=True)
    (root / "conf" / "base").mkdir(parents=True)
    (root / "conf" / "local").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        PYPROJECT.format(package=package, kedro_version=version("kedro"))
    )
    (root / "conf" / "base" / "catalog.yml").write_text(textwrap.dedent(catalog) or "{}\n")
    (root / "conf" / "base" / "parameters.yml").write_text(textwrap.dedent(parameters) or "{}\n")
    (root / "conf" / "local" / "credentials.yml").write_text(textwrap.dedent(credentials) or "{}\n")
    (source / "__init__.py").write_text("")
    plant_package_secrets(source)  # must never ship (the suite-wide scan checks)
    (source / "settings.py").write_text(SETTINGS)
    (source / "nodes.py").write_text(textwrap.dedent(nodes))
    body = textwrap.indent(textwrap.dedent(pipelines).strip(), "    ")
    (source / "pipeline_registry.py").write_text(
        "from kedro.pipeline import node, pipeline\n\n"
        "from . import nodes\n\n\n"
        f"def register_pipelines():\n{body}\n"
    )
    for relative, text in (files or {}).items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))
    for relative, value in (pickles or {}).items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(pickle.dumps(value))
    return root
