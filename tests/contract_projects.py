"""What the serving-contract tests share: a churn score over customers whose frame holds the
label (a column the pipeline does not read), a rolling trend over sales (a row's answer depends
on its neighbours), and the frames they take."""

from __future__ import annotations

import numpy as np
import pandas as pd

# node source for a project's nodes.py: ``score`` reads three columns of the customers (not the
# label), ``rolling_trend`` answers each day from the days around it
SCORE_AND_TREND_NODES = """\
import pandas as pd


def score(customers, weights):
    return pd.DataFrame({
        "customer_id": customers["customer_id"],
        "score": customers["tenure"] * weights["tenure"] + customers["charges"] * weights["charges"],
    })


def rolling_trend(sales):
    ordered = sales.sort_values("day")
    trend = ordered["amount"].rolling(3, min_periods=1).mean()
    return (trend * 1.1).sort_index().rename("forecast")
"""


def customers(rows: int = 30, *, signup_dates: bool = False) -> pd.DataFrame:
    """Customers with their label (``churned``), and a ``signup_date`` text column if asked."""
    generator = np.random.default_rng(3)
    columns = {
        "customer_id": np.arange(1, rows + 1),
        "tenure": generator.integers(1, 72, rows),
        "charges": generator.normal(60, 20, rows).round(2),
    }
    if signup_dates:
        columns["signup_date"] = pd.date_range("2024-01-01", periods=rows).strftime("%Y-%m-%d")
    columns["churned"] = generator.integers(0, 2, rows)
    return pd.DataFrame(columns)


def sales(rows: int = 30) -> pd.DataFrame:
    """A day's amount, one row a day."""
    generator = np.random.default_rng(4)
    return pd.DataFrame({"day": np.arange(rows), "amount": generator.normal(500, 60, rows)})
