"""A logged model loads with plain ``mlflow.pyfunc.load_model`` in a fresh process that has
neither the project folder, nor the project's package, nor this package
(docs/explanation/behaviour.md#what-it-is)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
import pytest
from servers import run_python
from sessions import LoadedProject

from kedro_mlflow_magic import log_pipeline_model

LOADER = textwrap.dedent(
    """\
    import importlib.util
    import sys

    sys.modules["kedro_mlflow_magic"] = None  # this package is not there
    assert importlib.util.find_spec("{package}") is None, "the project's package is importable"

    import mlflow
    import pandas as pd

    frame = pd.read_parquet("sample.parquet")
    model = mlflow.pyfunc.load_model(sys.argv[1])
    model.predict(frame).to_parquet("default.parquet")
    model.predict(frame, params={{"threshold": 0.2}}).to_parquet("low_threshold.parquet")
    print("project package from:", sys.modules["{package}"].__file__)
    print("kedro_mlflow_magic:", sys.modules["kedro_mlflow_magic"])
    """
)


@pytest.mark.slow
def test_the_model_loads_and_predicts_in_a_process_without_the_project(
    demo: LoadedProject, demo_sample: pd.DataFrame, mlflow_store: str, tmp_path: Path
) -> None:
    import mlflow

    info = log_pipeline_model(
        demo.pipelines["inference"], demo.catalog, "customers_to_score", demo_sample
    )
    in_process = mlflow.pyfunc.load_model(info.model_uri)
    expected_default = in_process.predict(demo_sample)
    expected_low = in_process.predict(demo_sample, params={"threshold": 0.2})
    assert not expected_default.equals(expected_low)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    demo_sample.to_parquet(elsewhere / "sample.parquet")
    (elsewhere / "load.py").write_text(LOADER.format(package=demo.package))
    printed = run_python(["load.py", info.model_uri], elsewhere, mlflow_store)

    shipped_from = printed.split("project package from:", 1)[1].splitlines()[0].strip()
    # the copy shipped inside the model (whose files live wherever the artifact store is)
    assert not shipped_from.startswith(str(demo.root / "src"))
    assert f"/code/{demo.package}/" in shipped_from
    assert "kedro_mlflow_magic: None" in printed
    pd.testing.assert_frame_equal(pd.read_parquet(elsewhere / "default.parquet"), expected_default)
    pd.testing.assert_frame_equal(
        pd.read_parquet(elsewhere / "low_threshold.parquet"), expected_low
    )
