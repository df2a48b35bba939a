"""A Spark model (docs/guides/data-kinds.md), side by side with its floors, in one run:

1. distributed scoring: ``model.predict(spark_df)`` on 1M rows (a lazy Spark DataFrame back,
   forced by one aggregate), against the same two node functions called on the same Spark
   DataFrame directly. Only planning is added: the ratio should be about 1. Shown through
   ``mlflow.pyfunc`` (MLflow's own Spark input check included) and through our model's own
   ``predict`` (without it).
2. serving: 1-row requests to ``mlflow models serve`` of our model, against a hand-written
   pyfunc doing the same ``createDataFrame`` / nodes / ``toPandas`` (``spark_floor_model.py``,
   the Spark floor), both servers up, their requests interleaved in rounds.

Run: ``python benchmarks/bench_spark.py`` (needs the spark extra and Java 17).
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import sys
import tempfile
import textwrap
import time
import uuid
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any

os.environ["KEDRO_DISABLE_TELEMETRY"] = "true"
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

import requests
from bench_serving import start_server, stop

HERE = Path(__file__).resolve().parent
ROWS = 1_000_000
SCORING_ROUNDS = 5
REQUESTS = 60  # per server, in ROUNDS interleaved rounds
ROUNDS = 6
SPARK = {
    "spark.master": "local[2]",
    "spark.ui.enabled": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.shuffle.partitions": "2",
    "spark.driver.memory": "1g",
}

NODES = """
from pyspark.sql import functions as F


def add_fare(trips, rate: float):
    return trips.withColumn("fare", F.col("distance") * F.lit(rate))


def name_zones(trips, zones):
    return trips.join(F.broadcast(zones), on="zone_id", how="left").select(
        "trip_id", "zone", "fare"
    )
"""

REGISTRY = """
from kedro.pipeline import node, pipeline

from . import nodes


def register_pipelines():
    return {"__default__": pipeline([
        node(nodes.add_fare, ["trips", "params:rate"], "priced", name="add_fare"),
        node(nodes.name_zones, ["priced", "zones"], "fares", name="name_zones"),
    ])}
"""

CATALOG = """
trips:
  type: spark.SparkDatasetV2
  filepath: data/trips.parquet
zones:
  type: spark.SparkDatasetV2
  filepath: data/zones.parquet
"""


def write_project(root: Path, spark: Any) -> str:
    """A small Kedro project whose nodes use the Spark API; returns its package name."""
    import pandas as pd

    package = f"bench_spark_{uuid.uuid4().hex[:8]}"
    source = root / "src" / package
    source.mkdir(parents=True)
    (root / "conf" / "base").mkdir(parents=True)
    (root / "conf" / "local").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        f'[tool.kedro]\npackage_name = "{package}"\nproject_name = "{package}"\n'
        f'kedro_init_version = "{version("kedro")}"\nsource_dir = "src"\n'
    )
    (root / "conf" / "base" / "catalog.yml").write_text(CATALOG)
    (root / "conf" / "base" / "parameters.yml").write_text("rate: 2.5\n")
    (source / "__init__.py").write_text("")
    (source / "settings.py").write_text("")
    (source / "nodes.py").write_text(textwrap.dedent(NODES))
    (source / "pipeline_registry.py").write_text(textwrap.dedent(REGISTRY))
    trips = pd.DataFrame(
        {"trip_id": range(1, 101), "zone_id": [n % 3 for n in range(100)],
         "distance": [n * 0.5 for n in range(1, 101)]}
    )  # fmt: skip
    (root / "data").mkdir()
    trips.to_parquet(root / "data" / "trips.parquet", index=False)
    zones = pd.DataFrame({"zone_id": [0, 1, 2], "zone": ["north", "centre", "south"]})
    spark.createDataFrame(zones).write.parquet(str(root / "data" / "zones.parquet"))
    return package


def big_frame(spark: Any, rows: int) -> Any:
    from pyspark.sql import functions as F

    return (
        spark.range(rows)
        .select(
            (F.col("id") + 1).alias("trip_id"),
            (F.col("id") % 3).alias("zone_id"),
            (F.col("id") * 0.5).alias("distance"),
        )
        .cache()
    )


def forced(frame: Any) -> float:
    """Run a lazy result to the end: one aggregate over every row."""
    return frame.selectExpr("sum(fare) AS total").collect()[0]["total"]


def seconds(call: Any) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def scoring(spark: Any, model_uri: str, nodes: Any, zones: Any) -> None:
    import mlflow

    frame = big_frame(spark, ROWS)
    frame.count()  # cached before timing
    pyfunc = mlflow.pyfunc.load_model(model_uri)
    ours = pyfunc.unwrap_python_model()
    contenders = {
        "node functions directly": lambda: forced(
            nodes.name_zones(nodes.add_fare(frame, 2.5), zones)
        ),
        "ours, model.predict (pyfunc)": lambda: forced(pyfunc.predict(frame)),
        "ours, own predict (no MLflow check)": lambda: forced(
            ours.predict(None, frame, {"rate": 2.5})
        ),
    }
    totals = {name: call() for name, call in contenders.items()}  # warm up, and agree
    assert len(set(totals.values())) == 1, totals
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for round_index in range(SCORING_ROUNDS):
        names = list(contenders) if round_index % 2 else list(reversed(contenders))
        for name in names:
            times[name].append(seconds(contenders[name]))
    base = statistics.median(times["node functions directly"])
    print(f"\n1. Scoring {ROWS:,} rows on Spark ({SPARK['spark.master']}), lazy result forced by "
          f"one aggregate; median of {SCORING_ROUNDS} alternating rounds")  # fmt: skip
    print(f"{'':<40}{'seconds':>10}{'ratio':>8}")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"{name:<40}{median:>10.3f}{median / base:>8.2f}")


def latency(servers: dict[str, Any], body: str) -> dict[str, list[float]]:
    latencies: dict[str, list[float]] = {name: [] for name in servers}
    sessions = {name: requests.Session() for name in servers}
    headers = {"Content-Type": "application/json"}
    for name, url in servers.items():
        for _ in range(5):  # warm-up
            sessions[name].post(f"{url}/invocations", data=body, headers=headers, timeout=120)
    for round_index in range(ROUNDS):
        names = list(servers) if round_index % 2 else list(reversed(servers))
        for name in names:
            for _ in range(REQUESTS // ROUNDS):
                began = time.perf_counter()
                answer = sessions[name].post(
                    f"{servers[name]}/invocations", data=body, headers=headers, timeout=120
                )
                latencies[name].append(time.perf_counter() - began)
                if answer.status_code != 200:
                    raise RuntimeError(f"{name}: {answer.status_code} {answer.text[:300]}")
    return latencies


def log_floor(root: Path, package: str, signature: Any) -> str:
    import mlflow

    with mlflow.start_run(run_name="spark_floor"):
        info = mlflow.pyfunc.log_model(
            name="spark_floor", python_model=str(HERE / "spark_floor_model.py"),
            model_config={"nodes_module": f"{package}.nodes"},
            artifacts={"zones": str(root / "data" / "zones.parquet")},
            code_paths=[str(root / "src" / package)], signature=signature,
            pip_requirements=["mlflow", "pyspark"],
        )  # fmt: skip
    return info.model_uri


def main() -> int:
    import importlib

    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project
    from pyspark.sql import SparkSession

    from kedro_mlflow_magic import log_pipeline_model

    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    builder = SparkSession.builder
    for key, value in SPARK.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    print(f"bench_spark: pyspark {version('pyspark')}, mlflow {version('mlflow')}; "
          f"load average {os.getloadavg()[0]:.2f} (shared machine: noisy)")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-spark-") as folder:
        root = Path(folder) / "project"
        tracking_uri = f"sqlite:///{folder}/mlflow.db"
        os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
        package = write_project(root, spark)
        bootstrap_project(root)
        with KedroSession.create(project_path=root) as session:
            context = session.load_context()
            catalog = context.catalog
            pipelines = importlib.import_module(f"{package}.pipeline_registry").register_pipelines()
            info = log_pipeline_model(
                pipelines["__default__"], catalog, "trips", catalog.load("trips"),
                project_path=root,
            )  # fmt: skip
            nodes = importlib.import_module(f"{package}.nodes")
            scoring(spark, info.model_uri, nodes, catalog.load("zones"))
            floor_uri = log_floor(root, package, info.signature)
        spark.stop()  # the servers start their own sessions

        served = dict(SPARK, **{"spark.master": "local[1]"})
        os.environ["KEDRO_MLFLOW_MAGIC_SPARK"] = json.dumps(served)
        body = json.dumps(
            {"dataframe_split": {"columns": ["trip_id", "zone_id", "distance"],
                                 "data": [[1, 2, 3.5]]}}
        )  # fmt: skip
        servers = []
        try:
            for name, uri in (("ours", info.model_uri), ("floor", floor_uri)):
                servers.append(start_server(name, uri, Path(folder), [], tracking_uri))
            results = latency({server.name: server.url for server in servers}, body)
        finally:
            for server in servers:
                stop(server)
        print(f"\n2. Served 1-row requests (mlflow models serve, {served['spark.master']}), "
              f"{REQUESTS} each after 5 warm-up requests")  # fmt: skip
        print(f"{'':<34}{'median ms':>10}{'p90 ms':>9}{'vs floor':>10}")
        floor_median = statistics.median(results["floor"])
        for name, label in (("floor", "floor: createDataFrame/toPandas"), ("ours", "ours")):
            samples = sorted(results[name])
            median, p90 = statistics.median(samples), samples[int(0.9 * len(samples))]
            print(f"{label:<34}{median * 1e3:>10.1f}{p90 * 1e3:>9.1f}"
                  f"{median / floor_median:>10.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
