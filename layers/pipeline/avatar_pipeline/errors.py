"""The contract's error names.

Step Functions matches a Lambda failure by ``errorType``, which is the raised exception's class name,
so each class name below is public interface: ``Retry`` and ``Catch`` in the state machine use them.
"""

from __future__ import annotations

from pydantic import ValidationError

from .redaction import redact


class PipelineError(Exception):
    """Base class: a failure with a contract error name and a cause a person can read.

    The cause is redacted here, where every contract error is built, so no provider answer that echoes a key, a
    signature or a presigned URL can carry it into the execution's output, the jobs table, events or logs.
    """

    def __init__(self, cause: str) -> None:
        cause = redact(cause)
        super().__init__(cause)
        self.cause = cause


class InvalidRequest(PipelineError):
    """The job request is malformed, names missing media, or asks for something unsupported."""


class InvalidMedia(PipelineError):
    """A portrait or voice track is not something the chosen provider accepts."""


class ProviderRejected(PipelineError):
    """The provider refused the job (moderation, bad parameters, authentication). Never retried."""


class ProviderThrottled(PipelineError):
    """QPS or concurrency limit reached. Retried with backoff and jitter."""


class ProviderUnavailable(PipelineError):
    """5xx, timeouts, connection resets. Retried."""


class ProviderTaskFailed(PipelineError):
    """The provider accepted the task, then reported that generation failed."""


class ResultUnavailable(PipelineError):
    """The result URL expired or stayed unreadable after asking the provider for a fresh one."""


class JobTimedOut(PipelineError):
    """The job's deadline or poll budget ran out before the provider finished."""


class JobCancelled(PipelineError):
    """Stopped by a person (``avatar-pipeline jobs cancel``) or by StopExecution."""


class BudgetExceeded(PipelineError):
    """The job's estimate is over its ``max_cost_usd`` or what is left of the daily budget; nothing was submitted."""


CONTRACT_ERROR_NAMES: tuple[str, ...] = (
    "InvalidRequest",
    "InvalidMedia",
    "ProviderRejected",
    "ProviderThrottled",
    "ProviderUnavailable",
    "ProviderTaskFailed",
    "ResultUnavailable",
    "JobTimedOut",
    "JobCancelled",
    "BudgetExceeded",
)


def describe_validation(error: ValidationError, *, skip: int = 0) -> str:
    """Each problem as ``field.path: message``; ``skip`` drops leading path parts the reader did not write."""
    problems = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"][skip:]) or "request"
        message = "unknown field" if item["type"] == "extra_forbidden" else item["msg"]
        problems.append(f"{where}: {message}")
    return "; ".join(problems)
