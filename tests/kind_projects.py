"""Kedro projects whose data are not pandas end to end (Spark, numpy, polars), written by
``write_project``.

- ``STARTER_*``: built like Kedro's ``spaceflights-pyspark`` starter: pandas nodes writing
  ``spark.SparkDatasetV2`` datasets, a Spark join, and transcoding (``model_input_table@spark``
  written by Spark, ``model_input_table@pandas`` read by a pandas node that predicts).
- ``SPARK_*``: a Spark data input (``spark.SparkDatasetV2``) whose nodes use the Spark API, with a
  persisted Spark artifact (a parquet folder) joined in.
- ``ARRAY_*``: numpy data inputs, a 2-D array indexed as an array and a 3-D batch of images.
- ``POLARS_*``: a polars data input, a polars node writing ``fares@polars`` read by a pandas node
  as ``fares@pandas``; a lazy polars data input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from projects import catalog_yaml

SPARK = "spark.SparkDatasetV2"

STARTER_NODES = """
import pandas as pd


def preprocess_shuttles(shuttles: pd.DataFrame) -> pd.DataFrame:
    shuttles = shuttles.copy()
    shuttles["engines"] = shuttles["engines"].astype(float)
    return shuttles


def preprocess_companies(companies: pd.DataFrame) -> pd.DataFrame:
    companies = companies.copy()
    companies["rating"] = companies["rating"].str.rstrip("%").astype(float) / 100
    return companies


def create_model_input_table(shuttles, companies):
    # the Spark API, as the starter's node (nothing is collected here)
    companies = companies.withColumnRenamed("id", "company_id")
    return shuttles.join(companies, on="company_id", how="inner")


def predict(table: pd.DataFrame, regressor, features: list) -> pd.DataFrame:
    table = table.sort_values("shuttle_id").reset_index(drop=True)
    price = regressor.predict(table[features].to_numpy())
    return pd.DataFrame({"shuttle_id": table["shuttle_id"], "price": price})
"""

STARTER_PIPELINES = """
return {"__default__": pipeline([
    node(nodes.preprocess_shuttles, "shuttles", "preprocessed_shuttles",
         name="preprocess_shuttles_node"),
    node(nodes.preprocess_companies, "companies", "preprocessed_companies",
         name="preprocess_companies_node"),
    node(nodes.create_model_input_table,
         ["preprocessed_shuttles", "preprocessed_companies"], "model_input_table@spark",
         name="create_model_input_table_node"),
    node(nodes.predict, ["model_input_table@pandas", "regressor", "params:features"],
         "prices", name="predict_node"),
])}
"""

STARTER_CATALOG = catalog_yaml(
    {
        "companies": ("pandas.CSVDataset", "data/01_raw/companies.csv"),
        "preprocessed_shuttles": (SPARK, "data/02_intermediate/preprocessed_shuttles.parquet"),
        "preprocessed_companies": (SPARK, "data/02_intermediate/preprocessed_companies.parquet"),
        "model_input_table@spark": (SPARK, "data/03_primary/model_input_table.parquet"),
        "model_input_table@pandas": (
            "pandas.ParquetDataset",
            "data/03_primary/model_input_table.parquet",
        ),
        "regressor": ("pickle.PickleDataset", "data/06_models/regressor.pickle"),
    }
)

STARTER_PARAMETERS = """
features: [engines, passenger_capacity, rating]
"""

STARTER_COMPANIES = """\
id,rating,company_location
1,90%,Niue
2,80%,Anguilla
3,65%,Russia
"""


def starter_shuttles(rows: int = 12) -> pd.DataFrame:
    """Shuttles to price: the data input of the starter-like project."""
    index = np.arange(rows)
    return pd.DataFrame(
        {
            "shuttle_id": index + 100,
            "company_id": index % 3 + 1,
            "engines": (index % 4 + 1).astype(np.int64),
            "passenger_capacity": (index * 3 % 7 + 2).astype(np.int64),
        }
    )


def starter_regressor():
    """A small fitted regressor over the starter's features."""
    from sklearn.linear_model import LinearRegression

    features = np.array([[1, 2, 0.9], [2, 4, 0.8], [3, 3, 0.65], [4, 8, 0.9]])
    return LinearRegression().fit(features, np.array([10.0, 20.0, 25.0, 41.0]))


def starter_project(make_project) -> Path:
    return make_project(
        STARTER_NODES,
        STARTER_PIPELINES,
        catalog=STARTER_CATALOG,
        parameters=STARTER_PARAMETERS,
        files={"data/01_raw/companies.csv": STARTER_COMPANIES},
        pickles={"data/06_models/regressor.pickle": starter_regressor()},
    )


SPARK_NODES = """
from pyspark.sql import functions as F


def add_fare(trips, rate: float):
    return trips.withColumn("fare", F.col("distance") * F.lit(rate))


def name_zones(trips, zones):
    joined = trips.join(zones, on="zone_id", how="left")
    return joined.select("trip_id", "zone", "fare").orderBy("trip_id")
"""

SPARK_PIPELINES = """
return {"__default__": pipeline([
    node(nodes.add_fare, ["trips", "params:rate"], "priced", name="add_fare"),
    node(nodes.name_zones, ["priced", "zones"], "fares", name="name_zones"),
])}
"""

SPARK_CATALOG = catalog_yaml(
    {"trips": (SPARK, "data/01_raw/trips.parquet"), "zones": (SPARK, "data/01_raw/zones.parquet")}
)


def spark_trips(rows: int = 8) -> pd.DataFrame:
    index = np.arange(rows)
    return pd.DataFrame({"trip_id": index + 1, "zone_id": index % 3, "distance": (index + 1) * 1.5})


def spark_project(make_project, spark) -> Path:
    """The Spark project; its data (a parquet data input, a parquet folder artifact written
    by Spark) written with the session ``spark``."""
    root = make_project(
        SPARK_NODES, SPARK_PIPELINES, catalog=SPARK_CATALOG, parameters="rate: 2.5\n"
    )
    raw = root / "data" / "01_raw"
    raw.mkdir(parents=True)
    spark_trips().to_parquet(raw / "trips.parquet", index=False)
    zones = pd.DataFrame({"zone_id": [0, 1, 2], "zone": ["north", "centre", "south"]})
    spark.createDataFrame(zones).repartition(2).write.parquet(str(raw / "zones.parquet"))
    return root


ARRAY_NODES = """
import numpy as np


def first_column(table: np.ndarray, scale: float) -> np.ndarray:
    return table[:, 0] * scale


def brightness(images: np.ndarray) -> np.ndarray:
    return images.mean(axis=(1, 2))


def flip(images: np.ndarray) -> np.ndarray:
    return images[:, ::-1, :]
"""

ARRAY_PIPELINES = """
return {
    "table": pipeline([node(nodes.first_column, ["table", "params:scale"], "scaled")]),
    "images": pipeline([node(nodes.brightness, "images", "brightness")]),
    "flipped": pipeline([node(nodes.flip, "images", "flipped_images")]),
}
"""


def array_project(make_project) -> Path:
    return make_project(ARRAY_NODES, ARRAY_PIPELINES, parameters="scale: 3.0\n")


def images(count: int = 6) -> np.ndarray:
    """A batch of small grey images: (count, 4, 5) floats."""
    return np.arange(count * 20, dtype=np.float64).reshape(count, 4, 5) / 7.0


POLARS_NODES = """
import pandas as pd
import polars as pl


def price(trips: pl.DataFrame, rate: float) -> pl.DataFrame:
    return trips.with_columns((pl.col("distance") * rate).alias("fare"))


def label(fares: pd.DataFrame) -> pd.DataFrame:
    return fares.assign(expensive=fares["fare"] > 5.0)[["trip_id", "fare", "expensive"]]


def summarise(trips: pl.LazyFrame) -> pl.LazyFrame:
    return trips.select(pl.col("trip_id"), (pl.col("distance") * 2).alias("double"))
"""

POLARS_PIPELINES = """
return {
    "__default__": pipeline([
        node(nodes.price, ["trips", "params:rate"], "fares@polars", name="price"),
        node(nodes.label, "fares@pandas", "labelled", name="label"),
    ]),
    "lazy": pipeline([node(nodes.summarise, "lazy_trips", "doubled", name="summarise")]),
}
"""

PARQUET = {"file_format": "parquet"}
POLARS_CATALOG = catalog_yaml(
    {
        "trips": ("polars.EagerPolarsDataset", "data/01_raw/trips.parquet"),
        "lazy_trips": ("polars.LazyPolarsDataset", "data/01_raw/trips.parquet"),
        "fares@polars": ("polars.EagerPolarsDataset", "data/02_intermediate/fares.parquet"),
        "fares@pandas": ("pandas.ParquetDataset", "data/02_intermediate/fares.parquet"),
    },
    extra={"trips": PARQUET, "lazy_trips": PARQUET, "fares@polars": PARQUET},
)


def polars_project(make_project) -> Path:
    root = make_project(
        POLARS_NODES, POLARS_PIPELINES, catalog=POLARS_CATALOG, parameters="rate: 2.5\n"
    )
    raw = root / "data" / "01_raw"
    raw.mkdir(parents=True)
    spark_trips().to_parquet(raw / "trips.parquet", index=False)
    return root
