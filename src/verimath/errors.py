"""The exception hierarchy of verimath.

Every error verimath raises on purpose derives from :class:`VerimathError`, so callers can
catch one type. Failures of *model-written code* are never exceptions: they come back as a
``CellResult`` whose status is ``error``, ``timeout``, ``memory`` or ``killed``.

    VerimathError
    ├── ConfigError               an option or config value is invalid
    ├── InputError                a data file is malformed (names file, line and field)
    ├── SandboxUnavailableError   the interpreter cannot run code at all
    ├── ModelError                a model backend failed
    │   ├── ModelNotFoundError        the model (file, repo, name) does not exist
    │   ├── ModelAuthError            no key, or the key was refused
    │   ├── ModelConnectionError      the server is unreachable or kept failing
    │   └── ModelResponseError        the server answered something unusable
    │       └── ModelContextLengthError   the conversation outgrew the model's context
    ├── GradingError              an answer comparison could not be carried out
    ├── WorkerLostError           distributed workers kept dying (finished samples are kept)
    ├── RunStoppedError           a run could not go on (finished samples are kept)
    ├── SamplesFailedError        every sample of a solve failed (the first is the cause)
    ├── OutputError               a result file (report, page, export) cannot be written
    └── StoreError                the run file is unusable (names it and what to do)
        ├── RunConfigMismatchError    resuming a run with a different config
        └── RunLockedError            another process is writing the run file
"""

from __future__ import annotations

import traceback
from pathlib import Path

__all__ = [
    "ConfigError",
    "GradingError",
    "InputError",
    "ModelAuthError",
    "ModelConnectionError",
    "ModelContextLengthError",
    "ModelError",
    "ModelNotFoundError",
    "ModelResponseError",
    "OutputError",
    "RunConfigMismatchError",
    "RunLockedError",
    "RunStoppedError",
    "SamplesFailedError",
    "SandboxUnavailableError",
    "StoreError",
    "VerimathError",
    "WorkerLostError",
    "failure_message",
]


class VerimathError(Exception):
    """Root of every error verimath raises on purpose."""


class ConfigError(VerimathError):
    """An option or configuration value is invalid."""


class InputError(VerimathError):
    """A data file or record is malformed."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        where = ":".join(str(p) for p in (path, line) if p is not None)
        if field is not None:
            where = f"{where} field {field!r}" if where else f"field {field!r}"
        super().__init__(f"{where}: {message}" if where else message)
        self.path, self.line, self.field = path, line, field


class SandboxUnavailableError(VerimathError):
    """The sandboxed interpreter cannot be started or has failed as a whole."""


class ModelError(VerimathError):
    """A model backend failed."""


class ModelNotFoundError(ModelError):
    """The requested model file, repository or name does not exist."""


class ModelAuthError(ModelError):
    """No API key was found, or the server refused it."""


class ModelConnectionError(ModelError):
    """The model server could not be reached, or kept failing after all retries."""


class ModelResponseError(ModelError):
    """The model server answered with something that cannot be used."""


class ModelContextLengthError(ModelResponseError):
    """The server refused the request because the conversation (with ``max_tokens``) is longer
    than the model's context: the sample ends there (stop reason ``context``), it is not
    retried."""


class GradingError(VerimathError):
    """An answer comparison could not be carried out."""


class StoreError(VerimathError):
    """The run store cannot be opened, read or written."""


class RunConfigMismatchError(StoreError):
    """A run is resumed with a configuration different from the one it was started with."""


class RunLockedError(StoreError):
    """Another process is writing the run file (only one writer at a time)."""


class OutputError(VerimathError):
    """A result file (report, viewer page, export) cannot be written."""


class RunStoppedError(VerimathError):
    """A run stopped because it could not go on: a fatal model error (key refused, server
    unreachable from the start), too many samples failing in a row, or the run file.

    Every sample finished before is in the run store: rerunning the command resumes.
    """


class SamplesFailedError(VerimathError):
    """Every sample of a ``solve`` failed with an error that is not verimath's own (the
    first is the cause)."""


class WorkerLostError(VerimathError):
    """Ray workers kept dying under a sample, or none has been available for too long.

    Every sample finished before is in the run store: rerunning the command resumes.
    """


def failure_message(exc: BaseException) -> str:
    """One line for a failed sample: the message, and where an unexpected error rose."""
    message = " ".join(str(exc).split()) or repr(exc)
    if isinstance(exc, VerimathError) or exc.__traceback__ is None:
        return message
    frame = traceback.extract_tb(exc.__traceback__)[-1]
    return f"{message} (at {Path(frame.filename).name}:{frame.lineno} in {frame.name})"
