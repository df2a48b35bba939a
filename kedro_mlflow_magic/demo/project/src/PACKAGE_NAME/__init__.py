"""Churn demo: train a classifier, then score customers with it."""

__version__ = "0.1.0"
