import pandas as pd


def score(rows: pd.DataFrame, weights: dict, threshold: float) -> pd.DataFrame:
    total = rows["a"] * weights["a"] + rows["b"] * weights["b"]
    return pd.DataFrame({"score": total, "high": total > threshold})
