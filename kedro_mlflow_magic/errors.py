"""The errors users see, in one place.

Each message names the thing that is wrong (dataset, column, parameter, output) and the fix.
The magics turn these into one-line IPython ``UsageError``s; Python callers catch them by type.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

# How much of a node's exception a one-line error quotes.
ERROR_TEXT_LENGTH = 500
# The forms of model URI a user can give, for messages.
MODEL_URI_FORMS = "runs:/<run id>/<name>, models:/<model id> or models:/<name>/<version>"


def one_line(text: str) -> str:
    """A message on one line (IPython shows a ``UsageError`` as a single line in a notebook;
    a shell command prints one line on stderr)."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    if not lines:
        return ""
    head, *rest = lines
    return " ".join([head, "; ".join(line.removeprefix("- ") for line in rest)]).strip()


# user:password@ in a URL (http://user:password@host): the password is masked in all we print.
URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*):[^\s/@]*@")


# a query parameter whose value is a secret (?token=..., a presigned URL's &sig=...)
SECRET_QUERY_KEYS = (
    r"password|passwd|pwd|secret|client_secret|token|access_token|api_?key|key|sig|signature|"
    r"sas|x-amz-signature|x-amz-credential|x-goog-signature"
)
URL_QUERY_SECRET = re.compile(rf"([?&](?:{SECRET_QUERY_KEYS})=)[^&#\s'\"]+", re.IGNORECASE)


def masked_url(text: str) -> str:
    """``text`` with the password of every URL in it masked (``http://user:***@host``), and
    the value of every secret query parameter (``?token=***``)."""
    return URL_QUERY_SECRET.sub(r"\1***", URL_PASSWORD.sub(r"\1:***@", str(text)))


class KedroMlflowMagicError(Exception):
    """Base class of every error this package raises on purpose."""


class UnknownDataInputError(KedroMlflowMagicError, ValueError):
    """The data input named by the user is not a free input of the pipeline."""

    def __init__(self, name: str, free_inputs: Iterable[str], role: str = "data input"):
        choices = ", ".join(sorted(free_inputs)) or "(none)"
        super().__init__(
            f"'{name}' is not a free input of the pipeline; choose the {role} among: {choices}"
        )


class AmbiguousDataInputError(KedroMlflowMagicError, ValueError):
    """No data input was given and the pipeline has zero or several candidates."""

    def __init__(self, candidates: Iterable[str]):
        candidates = sorted(candidates)
        if candidates:
            message = (
                "the pipeline has several possible data inputs: "
                f"{', '.join(candidates)}; name the one to predict on (data_input=... or --input)"
            )
        else:
            message = (
                "the pipeline has no free input left to predict on: every free input is a "
                "parameter or a persisted artifact; name the data input (data_input=... or --input)"
            )
        super().__init__(message)


class NoDataInputError(AmbiguousDataInputError):
    """Every free input of the pipeline is a parameter, and none was named the data input."""

    def __init__(self, parameters: Iterable[str]):
        parameters = sorted(parameters)
        KedroMlflowMagicError.__init__(
            self,
            "the pipeline has no data input: its only free inputs are parameters "
            f"({', '.join(parameters)}); add an input for the frame to predict on to one of its "
            "nodes (a name not in the catalog) and pass it as the data input, or make a "
            f"parameter the model's input, a row of its fields a call (--input {parameters[0]} "
            f"in a magic, data_input='{parameters[0]}' in Python)",
        )


class OutputNotChosenError(KedroMlflowMagicError, ValueError):
    """The pipeline has several outputs and none was chosen, or an unknown one was."""

    def __init__(
        self, outputs: Iterable[str], chosen: str | None = None, produced: Iterable[str] = ()
    ):
        listed = ", ".join(sorted(outputs))
        if chosen is None:
            message = (
                f"the pipeline has several outputs: {listed}; pick one (output=... or --output)"
            )
        else:
            message = (
                f"'{chosen}' is not a dataset the pipeline produces; pick one of its outputs: "
                f"{listed}"
            )
            if produced := sorted(produced):
                message += f", or a dataset it produces on the way: {first_names(produced)}"
        super().__init__(message)


def first_names(names: list[str], limit: int = 10) -> str:
    """``a, b, c and 7 more``: the first ``limit`` names."""
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f"{', '.join(names[:limit])}{more}"


class NoOutputError(OutputNotChosenError):
    """The pipeline has no output at all: every node's outputs are consumed or it declares none."""

    def __init__(self, nodes: Iterable[str], produced: Iterable[str] = ()):
        names = ", ".join(f"'{name}'" for name in nodes) or "(none)"
        produced = sorted(produced)
        if produced:
            fix = (
                f"name the dataset to return (output=... or --output NAME): {first_names(produced)}"
            )
        else:
            fix = (
                "give the node that computes the prediction an output name (e.g. "
                'node(func, inputs, "predictions")) or log a pipeline that ends in one'
            )
        KedroMlflowMagicError.__init__(
            self,
            f"the pipeline has no output (its nodes: {names}); a model must return something, "
            f"so {fix}",
        )


class PackagingError(KedroMlflowMagicError):
    """Some inputs or nodes of the pipeline cannot be shipped inside a model."""

    def __init__(self, problems: Iterable[object]):
        self.problems = list(problems)
        lines = [f"  - {problem}" for problem in self.problems]
        super().__init__("the pipeline cannot be packaged:\n" + "\n".join(lines))


class SampleError(KedroMlflowMagicError, TypeError):
    """The sample given for the data input is not a frame."""


class ParameterError(KedroMlflowMagicError, ValueError):
    """A parameter value cannot be stored or an override names an unknown parameter."""


class PipelineRunError(KedroMlflowMagicError, RuntimeError):
    """A node of the pipeline raised while we ran the pipeline (on the sample, the input
    example, a frame to compare with): the node and its exception, in one line."""

    def __init__(self, node_name: str | None, error: BaseException, hint: str = ""):
        where = f"node '{node_name}'" if node_name else "the pipeline"
        self.node_name = node_name
        text = one_line(str(error))
        if len(text) > ERROR_TEXT_LENGTH:
            text = text[: ERROR_TEXT_LENGTH - 3] + "..."
        super().__init__(f"{where} failed: {type(error).__name__}: {text}".rstrip(": ") + hint)


class ArtifactCopyError(PackagingError):
    """An artifact's files could not be copied into the model while it was being logged."""

    def __init__(self, dataset: str, source: str, error: Exception):
        self.problems = [dataset]
        reason = getattr(error, "strerror", None) or error
        KedroMlflowMagicError.__init__(
            self,
            f"could not copy the files of artifact '{dataset}' from {source} into the model: "
            f"{reason}; check that the file exists and is readable, then log again",
        )


class ParityError(KedroMlflowMagicError, AssertionError):
    """The reloaded model does not give what the pipeline gives in the session."""


class IncludeError(KedroMlflowMagicError, ValueError):
    """A file asked for with ``include`` is missing, outside the package folder, or hidden."""


class ArtifactChangedError(KedroMlflowMagicError, ValueError):
    """A node changes an artifact in place while predicting: the model would drift between
    calls (artifacts are loaded once and shared by every call)."""

    def __init__(self, changes: dict[str, list[str]]):
        self.changes = changes
        described = "; ".join(
            f"{'node ' + ' or '.join(map(repr, nodes)) if nodes else 'a node'} changes the "
            f"artifact '{artifact}' in place"
            for artifact, nodes in changes.items()
        )
        super().__init__(
            f"{described} while predicting, so each call would see what the previous "
            "calls left in it and the model would drift; fix the node: work on a copy inside it "
            "(copy.deepcopy(value), frame.copy(), dict(value)) or return a new object instead of "
            "changing its input"
        )


class SessionMismatchError(KedroMlflowMagicError, LookupError):
    """The loaded Kedro project lacks nodes a model runs, so the model cannot be checked in it."""

    def __init__(self, missing: list[str]):
        super().__init__(
            f"the loaded project has no node {', '.join(missing)}; load the project the model "
            "was logged from (%reload_kedro <its path>)"
        )


class RegistrationError(KedroMlflowMagicError, ValueError):
    """An alias was asked for without a registered model to put it on."""

    def __init__(self, alias: str):
        super().__init__(
            f"the alias '{alias}' needs a registered model: pass registered_model_name=... "
            "(--register NAME in %kedro_log_model)"
        )


class ExperimentError(KedroMlflowMagicError, ValueError):
    """The experiment chosen cannot take the model (deleted, or another run is active)."""


class NotOurModelError(KedroMlflowMagicError, ValueError):
    """A model this package did not log has no manifest to check it against the session."""

    def __init__(self, model: str):
        super().__init__(
            f"{model} was not logged by kedro_mlflow_magic, so there is no pipeline to "
            "compare it with; --compare (compare_with_session) needs a model logged by "
            "%kedro_log_model or log_pipeline_model"
        )


class ModelLoadError(KedroMlflowMagicError, LookupError):
    """A model cannot be loaded from the URI given."""


class PredictionError(KedroMlflowMagicError, ValueError):
    """A model refused the frame or parameters it was given (names the column or parameter)."""


# Where an authenticated MLflow server takes its user and password from, for messages.
CREDENTIALS_FIX = (
    "set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD to a user of that server "
    "(or, in a kedro-mlflow project, the server.credentials entry of conf/*/mlflow.yml naming "
    "them in credentials.yml)"
)


ERROR_LENGTH = 300  # characters of a library's message quoted in one of ours


def short_error(error: BaseException) -> str:
    """``error``'s message on one line, cut to ``ERROR_LENGTH`` characters."""
    text = one_line(str(error))
    return text if len(text) <= ERROR_LENGTH else text[: ERROR_LENGTH - 3] + "..."


def model_read_error(
    uri: str, error: BaseException, verb: str, tracking_uri: str
) -> KedroMlflowMagicError:
    """What a failure to ``verb`` ("load", "read") the model at ``uri`` is for a user: the
    tracking server's refusal (401, 403) naming the fix, else ModelLoadError naming the URI,
    MLflow's error and the URIs a logged model has."""
    status = http_status(error)
    if status in (401, 403):
        return TrackingAccessError(tracking_uri, status, f"the model '{uri}'")
    return ModelLoadError(
        f"cannot {verb} the model '{uri}' ({type(error).__name__}: {short_error(error)}); "
        f"give a logged model's URI: {MODEL_URI_FORMS}"
    )


def http_status(error: BaseException) -> int | None:
    """The HTTP status a tracking server answered with, for MLflow's REST errors (an
    ``MlflowException``) and its artifact uploads and downloads (a ``requests.HTTPError``)."""
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    if isinstance(status, int):
        return status
    status_of = getattr(error, "get_http_status_code", None)
    if callable(status_of) and getattr(error, "error_code", None) in (
        "UNAUTHENTICATED",
        "CUSTOMER_UNAUTHORIZED",
        "PERMISSION_DENIED",
    ):
        return status_of()
    return None


class TrackingAccessError(KedroMlflowMagicError, PermissionError):
    """The tracking server refused who we are (401) or what we asked for (403)."""

    def __init__(self, server: str, status: int, resource: str | None = None):
        self.server, self.status, self.resource = masked_url(server), status, resource
        user = os.environ.get("MLFLOW_TRACKING_USERNAME")
        as_user = f" as user '{user}'" if user else ""
        if status == 401:
            message = (
                f"the tracking server {self.server} refused authentication{as_user} (401); "
                f"{CREDENTIALS_FIX}"
            )
        else:
            what = resource or "this request"
            message = (
                f"the tracking server {self.server} refused permission on {what}{as_user} "
                f"(403); ask its administrator for permission on {what}, or use one you "
                "may write to"
            )
        super().__init__(message)


class UnknownPipelineError(KedroMlflowMagicError, LookupError):
    """A pipeline name that the project does not register."""

    def __init__(self, name: str, known: Iterable[str]):
        listed = ", ".join(sorted(known)) or "(none registered)"
        super().__init__(f"unknown pipeline '{name}'; the project's pipelines are: {listed}")


class UnknownNamespaceError(KedroMlflowMagicError, LookupError):
    """A namespace to open in the picture that the pipeline does not have."""

    def __init__(self, name: str, known: Iterable[str]):
        listed = ", ".join(sorted(known)) or "(none: its nodes have no namespace)"
        super().__init__(f"the pipeline has no namespace '{name}'; its namespaces are: {listed}")


class ProjectNotFoundError(KedroMlflowMagicError, LookupError):
    """No Kedro project where one was looked for (the shell command, the Kedro hook)."""


class LogAfterRunError(KedroMlflowMagicError, RuntimeError):
    """The Kedro hook could not log the model after a run: fails ``kedro run`` in one line."""


class HookOptionError(KedroMlflowMagicError, ValueError):
    """A ``LogModelHook`` option that cannot be used, set in settings.py or in a
    ``mlflow_magic.yml``: one line naming the key and the file."""


class RequirementError(KedroMlflowMagicError, ValueError):
    """A requirement added by hand (``--requirement``, ``extra_requirements=``) that cannot be
    used: not a requirement, or a bare name of a package that is not installed here."""


class EnvironmentCheckError(KedroMlflowMagicError, RuntimeError):
    """The model does not load or predict in a fresh environment of its own requirements (a
    package it imports is missing there, the environment cannot be built, or the prediction
    fails): ``check_environment`` says so in one line, with the fix."""


class ShippedCodeError(KedroMlflowMagicError, RuntimeError):
    """The model's code does not stand on its own: a node function does not import from the
    model's code folder in a fresh process without the project (a module of the project the
    model does not ship)."""


class PromotionRefusedError(KedroMlflowMagicError, RuntimeError):
    """``promote_model`` left the alias where it was: the new version breaks a caller of the
    one holding it, or answers differently (``force=True`` moves it anyway). ``diff`` holds
    the whole comparison."""

    def __init__(self, message: str, diff: object = None):
        super().__init__(message)
        self.diff = diff


class NotRegisteredError(KedroMlflowMagicError, LookupError):
    """A model to promote that is no registered model version (or is several)."""


class ProfileError(KedroMlflowMagicError, ValueError):
    """A model that cannot be profiled: not ours, or logged before profiles existed."""

    def __init__(self, model_uri: str):
        super().__init__(
            f"the model '{model_uri}' cannot be profiled: it was not logged by "
            "kedro_mlflow_magic, or by a release before profiles; log it again "
            "(%kedro_log_model or log_pipeline_model) and profile the new model"
        )
