"""Project settings: the defaults are what this demo needs."""
