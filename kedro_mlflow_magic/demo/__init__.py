"""The shipped example Kedro project: a churn classifier, trained and then logged as a model."""

from __future__ import annotations

import shutil
from importlib.metadata import version
from pathlib import Path

TEMPLATE = Path(__file__).parent / "project"
PACKAGE_PLACEHOLDER = "PACKAGE_NAME"
TEXT_SUFFIXES = {".py", ".toml", ".yml", ".md"}


def create_demo_project(
    destination: str | Path,
    package_name: str = "churn_demo",
    project_name: str = "Churn demo",
) -> Path:
    """Write the demo project into ``destination`` (which must be empty or absent)."""
    destination = Path(destination).resolve()
    if destination.exists() and any(destination.iterdir()):
        raise FileExistsError(f"{destination} is not empty; choose an empty or new folder")
    if not package_name.isidentifier():
        raise ValueError(f"package_name must be a Python identifier, not {package_name!r}")
    replacements = {
        PACKAGE_PLACEHOLDER: package_name,
        "PROJECT_NAME": project_name,
        "KEDRO_VERSION": version("kedro"),
    }
    for source in sorted(TEMPLATE.rglob("*")):
        if "__pycache__" in source.parts:
            continue
        relative = str(source.relative_to(TEMPLATE)).replace(PACKAGE_PLACEHOLDER, package_name)
        target = destination / relative
        if source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.suffix in TEXT_SUFFIXES:
            text = source.read_text(encoding="utf-8")
            for placeholder, value in replacements.items():
                text = text.replace(placeholder, value)
            target.write_text(text, encoding="utf-8")
        else:
            shutil.copyfile(source, target)
    return destination
