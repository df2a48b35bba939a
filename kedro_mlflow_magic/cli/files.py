"""Frames the shell command reads (``--sample``, ``--data``) and writes (the predictions)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kedro_mlflow_magic.cli.group import ShellInputError
from kedro_mlflow_magic.errors import one_line

if TYPE_CHECKING:
    import pandas as pd
    from kedro.io import DataCatalog

SAMPLE_SUFFIXES = (".csv", ".parquet", ".pkl", ".pickle")
DATA_SUFFIXES = (".csv", ".parquet")
OUTPUT_SUFFIXES = (".csv", ".parquet")


def read_frame(path: Path, option: str, suffixes: tuple[str, ...]) -> pd.DataFrame:
    """A frame from a file, read by its suffix; an unreadable file is one line naming it."""
    import pandas as pd

    from kedro_mlflow_magic.build.signature import checked_input

    readers: dict[str, Callable[[Path], Any]] = {
        ".csv": pd.read_csv,
        ".parquet": pd.read_parquet,
        ".pkl": pd.read_pickle,
        ".pickle": pd.read_pickle,
    }
    kinds = ", ".join(suffixes)
    if path.suffix.lower() not in suffixes:
        raise ShellInputError(f"{option} {path}: give a file ending in {kinds}")
    if not path.is_file():
        raise ShellInputError(f"{option} {path}: no such file")
    try:
        value = readers[path.suffix.lower()](path)
    except Exception as error:
        raise ShellInputError(
            f"{option} {path}: could not read it: {type(error).__name__}: {one_line(str(error))}"
        ) from None
    return checked_input(value, name=f"{option} {path}")


def sample_from(text: str, catalog: DataCatalog) -> pd.DataFrame:
    """``--sample``: a file (.csv, .parquet, .pkl) when one is there, else a catalog dataset."""
    from kedro_mlflow_magic.build.signature import checked_input
    from kedro_mlflow_magic.project import load_sample_dataset

    path = Path(text).expanduser()
    if path.is_file() or (path.suffix.lower() in SAMPLE_SUFFIXES and text not in catalog):
        return read_frame(path, "--sample", SAMPLE_SUFFIXES)
    if text in catalog:
        sample = load_sample_dataset(catalog, text, "--sample")
        return checked_input(sample, name=f"--sample {text}")
    raise ShellInputError(
        f"--sample {text}: neither a catalog dataset nor a file; name a catalog dataset "
        f"or a {', '.join(SAMPLE_SUFFIXES)} file"
    )


def write_result(result: Any, output: Path | None) -> None:
    """The prediction as CSV on stdout, or into ``output`` (.csv or .parquet)."""
    import pandas as pd

    frame = result if isinstance(result, pd.DataFrame) else pd.DataFrame(result)
    frame.columns = [str(column) for column in frame.columns]
    if output is None:
        frame.to_csv(sys.stdout, index=False)
    elif output.suffix.lower() == ".parquet":
        frame.to_parquet(output, index=False)
    else:
        frame.to_csv(output, index=False)
