"""Checks of a model against the project: Kedro's reference run, parity of two results,
artifacts a node changes in place (drift), and the environment check in a fresh environment
built from the model's own requirements."""
