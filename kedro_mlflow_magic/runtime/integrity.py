"""The artifacts' files checked at load time against the sha256 digests the manifest recorded
when the model was logged, before anything is loaded from them (a changed pickle is never
unpickled). Once per load; a call pays nothing. Models logged before digests were recorded
have none: they load as before.

The digests are also what a review compares (``compare_models``): two models' artifacts are
the same when their digests are, without downloading anything but the manifests.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence

from mlflow.exceptions import MlflowException

from .manifest import ArtifactEntry

# read in blocks of this size where ``hashlib.file_digest`` (Python 3.11) is missing
BLOCK = 1 << 20
# written by Python when a nested MLflow model's code is imported from its folder: never
# recorded, never checked
CACHE_FOLDER = "__pycache__"


class ArtifactIntegrityError(MlflowException):
    """An artifact's file no longer matches the digest recorded when the model was logged.
    (Each model ships this runtime under a name of its own: catch ``MlflowException``.)"""


def file_sha256(path: str) -> str:
    """The sha256 of a file's bytes, read in blocks (never the whole file in memory)."""
    with open(path, "rb") as file:
        file_digest = getattr(hashlib, "file_digest", None)
        if file_digest is not None:
            return file_digest(file, "sha256").hexdigest()
        digest = hashlib.sha256()
        block = bytearray(BLOCK)
        view = memoryview(block)
        while size := file.readinto(block):
            digest.update(view[:size])
        return digest.hexdigest()


def folder_files(folder: str) -> list[str]:
    """Every file under ``folder`` as a path relative to it (``/``-separated), sorted; Python's
    caches left out."""
    found = []
    for root, folders, files in os.walk(folder):
        folders[:] = sorted(name for name in folders if name != CACHE_FOLDER)
        relative = os.path.relpath(root, folder)
        for name in files:
            path = name if relative == "." else os.path.join(relative, name)
            found.append(path.replace(os.sep, "/"))
    return sorted(found)


def folder_digests(folder: str) -> dict[str, str]:
    """The sha256 of every file under ``folder``, by its path relative to it."""
    return {path: file_sha256(os.path.join(folder, path)) for path in folder_files(folder)}


def refusal(entry: ArtifactEntry, path: str, what: str) -> ArtifactIntegrityError:
    return ArtifactIntegrityError(
        f"the artifact '{entry['dataset']}' does not match the model as it was logged: its file "
        f"{path} {what}; load the model from its store again (or log it again) rather than "
        "from a copy whose files were changed"
    )


def check_artifact(entry: ArtifactEntry, folder: str) -> None:
    """Compare the files of one artifact's folder with the digests of its manifest entry."""
    recorded = entry.get("sha256")
    if recorded is None:  # logged before digests were recorded
        return
    for path, digest in sorted(recorded.items()):
        location = os.path.join(folder, path)
        if not os.path.isfile(location):
            raise refusal(entry, path, "is missing")
        if file_sha256(location) != digest:
            raise refusal(entry, path, "changed after the model was logged (its sha256 differs)")
    added = sorted(set(folder_files(folder)) - set(recorded))
    if added:
        raise refusal(entry, added[0], "was added after the model was logged")


def check_artifacts(entries: Sequence[ArtifactEntry], folders: Mapping[str, str]) -> None:
    """Check every artifact (``folders``: MLflow's ``context.artifacts``, each artifact's
    folder by its key) before any is loaded; the first mismatch is an
    ``ArtifactIntegrityError`` naming the dataset and the file."""
    for entry in entries:
        check_artifact(entry, folders[entry["artifact"]])
