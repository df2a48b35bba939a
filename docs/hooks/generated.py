"""Build-time hooks of the docs site (mkdocs.yml ``hooks:``): parts of pages made from the code,
so that they cannot fall behind it.

- ``<!-- magic-help: NAME -->`` becomes the reference of the magic ``%NAME``: its usage, what it
  does and a table of its options, read from the IPython ``magic_arguments`` parser the magic
  itself parses its line with. The page that holds these markers must name every magic that
  ``%load_ext kedro_mlflow_magic`` registers: a magic left out is a warning (an error in
  ``mkdocs build --strict``).
- ``<!-- notebook: PATH -->`` becomes the notebook at PATH (relative to the repository): its
  Markdown cells as they are, its code cells as Python blocks.

The shell command's reference is rendered by mkdocs-click from the click group itself.
"""

from __future__ import annotations

import argparse
import html
import json
import logging
import re
import textwrap
from pathlib import Path
from typing import Any

log = logging.getLogger("mkdocs.hooks.generated")

MAGIC_MARKER = re.compile(r"^<!-- magic-help: (\w+) -->$", re.MULTILINE)
NOTEBOOK_MARKER = re.compile(r"^<!-- notebook: (\S+) -->$", re.MULTILINE)


def magics() -> dict[str, Any]:
    """The magics ``%load_ext kedro_mlflow_magic`` registers, by name."""
    from kedro_mlflow_magic.magics import line_magics

    return line_magics()


def escaped(text: str) -> str:
    """Help text as Markdown: ``<package>`` is text, not an HTML tag (code spans are left as
    they are, since Markdown shows them literally)."""
    parts = re.split(r"(`[^`]*`)", " ".join(str(text).split()))
    return "".join(
        part if part.startswith("`") else html.escape(part, quote=False) for part in parts
    )


def cell(text: str) -> str:
    """Text for one cell of a Markdown table: a ``|`` outside code spans escaped (inside
    them, Python-Markdown's tables keep it)."""
    parts = re.split(r"(`[^`]*`)", text)
    return "".join(part if part.startswith("`") else part.replace("|", "\\|") for part in parts)


def option_names(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"`{action.metavar or action.dest.upper()}` (positional)"
    return ", ".join(f"`{name}`" for name in action.option_strings)


def option_value(action: argparse.Action) -> str:
    """What the option takes, as its help shows it (``NAME``, ``NAME [NAME ...]``), or a flag."""
    if action.nargs == 0:
        return "flag"
    metavar = action.metavar or action.dest.upper()
    if action.nargs in ("+", "*"):
        return f"`{metavar} [{metavar} ...]`"
    if action.nargs == "?":
        return f"`[{metavar}]`"
    return f"`{metavar}`"


def option_default(action: argparse.Action) -> str:
    if action.nargs == 0 or action.default in (None, [], argparse.SUPPRESS):
        return ""
    return f"`{action.default}`"


def option_help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The option's help as ``%magic?`` prints it (``%%`` and ``%(default)s`` expanded)."""
    help_text = action.help or ""
    try:
        help_text = parser._get_formatter()._expand_help(action)
    except (AttributeError, KeyError, TypeError, ValueError):
        help_text = help_text.replace("%%", "%")
    return help_text


def repeats(action: argparse.Action) -> bool:
    """An option given several times adds up (``--freeze a --freeze b``)."""
    return isinstance(action, (argparse._AppendAction, argparse._ExtendAction))


def magic_help(name: str) -> str:
    """The reference of ``%name``, from the parser its line is parsed with."""
    found = magics()
    if name not in found:
        raise ValueError(
            f"<!-- magic-help: {name} -->: no magic '{name}'; the magics are: {', '.join(found)}"
        )
    parser = found[name].parser
    # as %magic? prints it, wrapped (IPython's parser starts it with "::")
    usage = parser.format_usage().replace("::", "", 1).strip("\n")
    usage = textwrap.dedent(re.sub(r"^\s*usage:\s*", "", usage))
    description = escaped(parser.description or "")
    rows = [
        "| option | takes | default | what it does |",
        "| --- | --- | --- | --- |",
    ]
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        what = option_help(parser, action)
        if repeats(action) and "repeat" not in what:
            what += " (repeatable)"
        rows.append(
            f"| {cell(option_names(action))} | {cell(option_value(action))} "
            f"| {cell(option_default(action))} | {cell(escaped(what))} |"
        )
    return "\n".join(
        [
            "```text",
            usage,
            "```",
            "",
            description,
            "",
            *rows,
            "",
        ]
    )


def notebook_markdown(path: Path) -> str:
    """A notebook as Markdown: Markdown cells as they are, code cells as Python blocks."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    parts = []
    for notebook_cell in notebook["cells"]:
        source = "".join(notebook_cell["source"]).strip()
        if not source:
            continue
        if notebook_cell["cell_type"] == "markdown":
            parts.append(source)
        elif notebook_cell["cell_type"] == "code":
            parts.append(f"```python\n{source}\n```")
    return "\n\n".join(parts) + "\n"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    named = MAGIC_MARKER.findall(markdown)
    if named:
        left_out = sorted(set(magics()) - set(named))
        if left_out:
            log.warning(
                "%s documents no magic %s: add a <!-- magic-help: NAME --> for each",
                page.file.src_uri,
                ", ".join(f"%{name}" for name in left_out),
            )
    markdown = MAGIC_MARKER.sub(lambda match: magic_help(match.group(1)), markdown)
    root = Path(config.config_file_path).parent
    return NOTEBOOK_MARKER.sub(lambda match: notebook_markdown(root / match.group(1)), markdown)
