"""Does the model's code stand on its own (docs/guides/what-ships.md#the-fresh-process-check)?
Every node function must import from the model's own code folder in a fresh process that has
neither the project nor this package on its path, its working folder elsewhere. The check runs
in a subprocess beside the log's other verification (``code_checked``), so it costs a log
little more than starting it; its failure fails the log with one line naming the module the
model lacks and the ``include`` that ships it."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kedro.pipeline import Pipeline

from kedro_mlflow_magic.build.project_code import (
    OUR_PACKAGE,
    include_for,
    installed_folders,
    top_location,
)
from kedro_mlflow_magic.errors import ShippedCodeError, one_line

PROBE = Path(__file__).with_name("code_probe.py")
# a node module that takes longer than this to import (TensorFlow takes seconds) is not waited for
TIMEOUT_SECONDS = 600


def hidden_folders(packages: dict[str, Path], project_root: Path | None) -> list[str]:
    """The folders whose modules the fresh process must not see: those the project's code is
    imported from here, the project's folder, and this package's."""
    folders = {location.parent for location in packages.values()}
    if project_root is not None:
        folders.add(project_root)
    ours = top_location(OUR_PACKAGE)
    if ours is not None:
        folders.add(ours)
    # never a folder that holds Python or the installed distributions (a module kept in /tmp)
    return sorted(
        str(folder.resolve())
        for folder in folders
        if not any(inside.is_relative_to(folder.resolve()) for inside in installed_folders())
    )


def node_functions(pipeline: Pipeline) -> dict[str, str]:
    """Each node's function as ``module:qualname``."""
    return {
        node.name: f"{node.func.__module__}:{node.func.__qualname__}" for node in pipeline.nodes
    }


def model_code_folder(model_info: Any, destination: Path) -> Path:
    """The logged model's ``code/`` folder, copied from its artifact store."""
    import mlflow

    location = mlflow.get_logged_model(model_info.model_id).artifact_location
    return Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=f"{location.rstrip('/')}/code", dst_path=str(destination)
        )
    )


def advice(missing: str, packages: dict[str, Path]) -> str:
    """How to ship a module of the project the model lacks: the ``include`` that does it."""
    path = include_for(missing, packages)
    if path is not None:
        return f"ship it: log again with include=['{path}'] (--include {path})"
    location = top_location(missing.partition(".")[0])
    if location is None:
        return f"'{missing}' cannot be imported here either: install it or fix the import"
    return (
        f"'{missing}' is imported here from {location}, outside the project's source folder: "
        "move it into the source folder (src/) beside the package and include it "
        "(include=['../NAME']), or install it as a package and add it as a requirement"
    )


def include_for_model(module: str, model_folder: Path) -> str | None:
    """The ``include`` that ships ``module`` with the model in ``model_folder``, when it is a
    module of the project of the model's nodes (as imported here); None otherwise."""
    from mlflow.models import Model

    from kedro_mlflow_magic.runtime import read_manifest

    try:
        flavor = Model.load(str(model_folder)).flavors.get("python_function", {})
    except Exception:  # not an MLflow model folder: nothing to say
        return None
    manifest = read_manifest(flavor.get("config")) or {}
    tops = [
        node["function"].partition(":")[0].partition(".")[0] for node in manifest.get("nodes", [])
    ]
    packages = {top: location for top in tops if (location := top_location(top)) is not None}
    return include_for(module, packages)


def failure(report: dict[str, Any], packages: dict[str, Path]) -> ShippedCodeError:
    node, module = report.get("node"), report.get("module")
    said = f"node '{node}' fails to import its module '{module}' from the model's code folder "
    said += f"in a fresh process without the project ({one_line(report.get('error', ''))})"
    missing = report.get("missing")
    if missing:
        return ShippedCodeError(
            f"the model's code does not stand on its own: {said}; the model lacks the "
            f"project's module '{missing}': {advice(missing, packages)}"
        )
    return ShippedCodeError(
        f"the model's code does not stand on its own: {said}; if the module reads a file at "
        "import, ship that file with include=[...] (--include PATH)"
    )


def site_packages() -> list[str]:
    """The folders of installed distributions (not the standard library): what the probe stands
    in for."""
    import site
    import sysconfig

    paths = sysconfig.get_paths()
    folders = {paths[key] for key in ("purelib", "platlib") if key in paths}
    folders.update(site.getsitepackages())
    folders.add(site.getusersitepackages())
    return sorted(folders)


class CodeCheck:
    """The check running in its subprocess; ``verdict()`` waits for it. It first runs with the
    installed libraries stood in for (``code_probe``); a failure that is not a missing module
    is checked again with the real libraries, whose verdict stands."""

    def __init__(
        self,
        code: Path,
        packages: dict[str, Path],
        nodes: dict[str, str],
        project_root: Path | None,
        scratch: Path,
    ) -> None:
        self.packages = packages
        self.scratch = scratch
        self.request = {
            "code": [str(code)], "hidden": hidden_folders(packages, project_root),
            "installed": site_packages(), "nodes": nodes,
        }  # fmt: skip
        self.elsewhere = scratch / "elsewhere"
        self.elsewhere.mkdir()
        self.process = self.start(stand_ins=True)

    def start(self, stand_ins: bool) -> subprocess.Popen:
        request_file = self.scratch / "request.json"
        request_file.write_text(json.dumps({**self.request, "stand_ins": stand_ins}), "utf-8")
        self.report_file = self.scratch / f"report-{int(stand_ins)}.json"
        with (self.scratch / "stderr.txt").open("wb") as errors:
            return subprocess.Popen(
                [sys.executable, "-I", str(PROBE), str(request_file), str(self.report_file)],
                cwd=self.elsewhere, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=errors,
            )  # fmt: skip

    def report(self) -> dict[str, Any]:
        try:
            self.process.wait(timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.stop()
            raise ShippedCodeError(
                f"the model's node modules took over {TIMEOUT_SECONDS} s to import in a fresh "
                "process, so the model's code could not be checked; see what they do at import"
            ) from None
        if not self.report_file.is_file():
            said = (self.scratch / "stderr.txt").read_text(errors="replace")
            raise ShippedCodeError(
                f"the check of the model's code could not run: {one_line(said)[-300:]}"
            )
        return json.loads(self.report_file.read_text(encoding="utf-8"))

    def verdict(self) -> dict[str, Any]:
        """The probe's report; ShippedCodeError when a node function failed to import."""
        report = self.report()
        if not report.get("ok") and report.get("stand_ins") and not report.get("missing"):
            self.process = self.start(stand_ins=False)
            report = self.report()
        if not report.get("ok"):
            raise failure(report, self.packages)
        return report

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def code_checked(
    model_info: Any,
    pipeline: Pipeline,
    packages: dict[str, Path],
    project_root: Path | None,
) -> Iterator[None]:
    """Check the logged model's code in a fresh process while the block runs (the log's
    parity check); after the block, ShippedCodeError when it does not stand on its own."""
    with tempfile.TemporaryDirectory(prefix="kedro-mlflow-magic-code-") as folder:
        scratch = Path(folder)
        code = model_code_folder(model_info, scratch / "model")
        check = CodeCheck(code, packages, node_functions(pipeline), project_root, scratch)
        try:
            yield
        except BaseException:
            check.stop()
            raise
        check.verdict()
