"""The docs site and the README, checked without building the site (``mkdocs build --strict``
in .ci/run checks the links between pages): the README's set-up commands and length, every
``docs/<page>.md#<anchor>`` that the code, tests, benchmarks and README point at, and a reference
section for every magic."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SETUP_COMMANDS = (
    'python -m venv .venv && .venv/bin/pip install -e ".[demo]" && '
    ".venv/bin/python -m kedro_mlflow_magic demo",
    'python -m venv .venv && .venv/bin/pip install -e ".[dev,spark]" && '
    'PATH="$PWD/.venv/bin:$PATH" .venv/bin/python -m pytest',
)
# what points into the docs: code comments, docstrings, configuration, the READMEs
POINTING_FILES = (
    "kedro_mlflow_magic/**/*.py",
    "tests/**/*.py",
    "benchmarks/**/*.py",
    "benchmarks/README.md",
    "tests/README.md",
    "noxfile.py",
    "pyproject.toml",
    "mkdocs.yml",
    ".ci/run",
    "README.md",
    "CHANGELOG.md",
)
DOCS_REFERENCE = re.compile(r"docs/((?:[\w-]+/)*[\w-]+\.md)(?:#([\w-]+))?")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
# the explanation of the behaviour: code comments point at these sections by their anchors
BEHAVIOUR_SECTIONS = (
    "what-it-is",
    "input-roles",
    "the-logged-model",
    "predicting",
    "the-python-api",
    "the-magics",
    "where-runs-go",
    "after-kedro-run-and-from-the-shell",
    "beside-kedro-mlflow",
    "data-as-kedro-gives-it",
    "mlflow-models-as-artifacts",
    "scale",
    "will-it-serve-where-it-ships",
)


def slug(heading: str) -> str:
    """A heading's anchor as MkDocs makes it (Python-Markdown's ``toc`` slugify, on the
    heading's text without its Markdown)."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(page: Path) -> set[str]:
    return {slug(heading) for heading in HEADING.findall(FENCE.sub("", page.read_text()))}


def references() -> list[tuple[str, str, str | None]]:
    """(file, page, anchor) for every ``docs/<page>.md[#anchor]`` in the files that point in."""
    found = []
    for pattern in POINTING_FILES:
        for path in sorted(ROOT.glob(pattern)):
            if ".venv" in path.parts or path.resolve() == Path(__file__).resolve():
                continue
            for match in DOCS_REFERENCE.finditer(path.read_text(encoding="utf-8")):
                found.append((str(path.relative_to(ROOT)), match.group(1), match.group(2)))
    return found


def test_readme_starts_with_the_two_setup_commands_and_stays_short():
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```bash\n(.*?)```", readme, re.DOTALL)
    assert first_block is not None
    assert first_block.group(1).splitlines() == list(SETUP_COMMANDS)
    assert readme.index("```bash") < readme.index("\n## "), "the commands come before any section"
    assert len(readme.splitlines()) <= 200


def test_the_behaviour_page_keeps_the_sections_the_code_points_at():
    assert set(BEHAVIOUR_SECTIONS) <= anchors(DOCS / "explanation" / "behaviour.md")


def test_every_docs_reference_points_at_a_page_and_a_heading():
    broken = []
    for source, page, anchor in references():
        target = DOCS / page
        if not target.is_file():
            broken.append(f"{source}: docs/{page} does not exist")
        elif anchor is not None and anchor not in anchors(target):
            broken.append(f"{source}: docs/{page} has no heading whose anchor is #{anchor}")
    assert not broken, "\n".join(broken)


def test_the_benchmark_numbers_live_on_one_page():
    """Measured times are on docs/explanation/benchmarks.md; the READMEs point there."""
    measured = re.compile(r"\d+(?:\.\d+)?\s?(?:ms|µs)\b")
    for readme in ("README.md", "benchmarks/README.md"):
        text = FENCE.sub("", (ROOT / readme).read_text())
        assert not measured.findall(text), readme


def test_every_magic_has_a_generated_reference():
    """docs/reference/magics.md has a marker, replaced by the magic's parser's help at build
    time, for exactly the magics ``%load_ext`` registers."""
    from kedro_mlflow_magic.magics import line_magics

    page = (DOCS / "reference" / "magics.md").read_text()
    assert set(re.findall(r"<!-- magic-help: (\w+) -->", page)) == set(line_magics())
