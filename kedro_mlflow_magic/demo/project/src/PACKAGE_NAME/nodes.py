"""Node functions of the churn demo."""

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import OneHotEncoder, StandardScaler

NUMERIC = ["tenure_months", "monthly_charges", "support_calls"]
CATEGORICAL = ["plan"]


def generate_customers(n_customers: int, seed: int) -> pd.DataFrame:
    """Made-up customers whose churn depends on tenure, charges, support calls and plan."""
    rng = np.random.default_rng(seed)
    customers = pd.DataFrame(
        {
            "customer_id": np.arange(1, n_customers + 1),
            "tenure_months": rng.integers(1, 72, n_customers),
            "monthly_charges": rng.normal(60, 20, n_customers).round(2),
            "support_calls": rng.poisson(1.5, n_customers),
            "plan": rng.choice(["basic", "plus", "premium"], n_customers),
        }
    )
    risk = (
        -0.05 * customers["tenure_months"]
        + 0.03 * customers["monthly_charges"]
        + 0.6 * customers["support_calls"]
        + customers["plan"].map({"basic": 0.5, "plus": 0.0, "premium": -0.5})
        - 1.0
    )
    customers["churned"] = (rng.random(n_customers) < 1 / (1 + np.exp(-risk))).astype(int)
    return customers


def fit_encoder(customers: pd.DataFrame) -> ColumnTransformer:
    encoder = ColumnTransformer(
        [
            ("numeric", StandardScaler(), NUMERIC),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ]
    )
    return encoder.fit(customers[NUMERIC + CATEGORICAL])


def train_classifier(
    customers: pd.DataFrame, encoder: ColumnTransformer, model: dict
) -> LogisticRegression:
    features = encoder.transform(customers[NUMERIC + CATEGORICAL])
    return LogisticRegression(**model).fit(features, customers["churned"])


def encode_features(customers: pd.DataFrame, encoder: ColumnTransformer) -> np.ndarray:
    return encoder.transform(customers[NUMERIC + CATEGORICAL])


def score_customers(
    customers: pd.DataFrame,
    features: np.ndarray,
    classifier: LogisticRegression,
    threshold: float,
    scoring: dict,
) -> pd.DataFrame:
    """Churn probability and label for each customer; ``threshold`` decides the label."""
    probability = classifier.predict_proba(features)[:, 1]
    labels = scoring["labels"]
    return pd.DataFrame(
        {
            "customer_id": customers["customer_id"].to_numpy(),
            "churn_probability": probability.round(scoring["decimals"]),
            "label": np.where(probability >= threshold, labels["positive"], labels["negative"]),
        }
    )
