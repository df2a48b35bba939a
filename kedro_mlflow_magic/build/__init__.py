"""From a prepared pipeline to a logged model: the signature and input example, the manifest,
the staged files (artifacts and the project's source), pinned requirements and the packaging
of it all as an MLflow model from code."""
