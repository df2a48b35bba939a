"""Where runs and models go, and how logged models come back: the tracking store and experiment
resolved from the project, the run a model is logged into and its registration, the warm-up
that opens the store early, and loading logged models to predict."""
