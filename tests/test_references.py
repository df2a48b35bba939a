"""Every reference in the code, tests and benchmarks points at something in the repository: no
"SPEC N" (a section of a brief kept outside it, which a contributor cannot look up). Where a
reader needs the promised behaviour, the docs page is the place (``test_docs`` checks those)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEARCHED = (
    "kedro_mlflow_magic/**/*.py",
    "tests/**/*.py",
    "benchmarks/**/*.py",
    "benchmarks/README.md",
    "notebooks/*.ipynb",
    "noxfile.py",
    "pyproject.toml",
    "CHANGELOG.md",
    "README.md",
    "docs/**/*.md",
)
OUTSIDE_REFERENCE = re.compile(r"\bSPEC\s+\d")


def test_nothing_refers_to_a_document_outside_the_repository():
    found = []
    for pattern in SEARCHED:
        for path in sorted(ROOT.glob(pattern)):
            relative = path.relative_to(ROOT).as_posix()
            if ".venv" in path.parts or path.name == Path(__file__).name:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if OUTSIDE_REFERENCE.search(line):
                    found.append(f"{relative}:{number}: {line.strip()}")
    assert not found, "\n".join(found)
