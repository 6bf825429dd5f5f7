"""Powertools singletons shared by every handler (service name and namespace come from the template)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import LogRecord

from .redaction import redact


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter, redacting every string of a record just before it is serialized.

    A ``logging.Filter`` would see the message and ``extra=`` fields but not the exception text, which the formatter
    renders from ``exc_info`` itself; here the finished record (message, extra fields, ``exception``,
    ``stack_trace``) is walked as a whole.
    """

    def serialize(self, log: LogRecord) -> str:
        return super().serialize(self._redacted(log))

    def _redacted(self, value: Any) -> Any:
        if isinstance(value, str):
            return redact(value)
        if isinstance(value, dict):
            return {key: self._redacted(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self._redacted(item) for item in value]
        if value is None or isinstance(value, bool | int | float):
            return value
        # Any other object (an exception in ``stack_trace``, a datetime): what the default json_default, str, writes.
        return redact(str(value))


logger = Logger(logger_formatter=RedactingFormatter())
# What every function calls through (botocore, and http.client beneath it); httpx is patched where its client is made
# (providers/http.py). Patching all X-Ray supports would import httpx and sqlite3 in every function (about 23 ms).
tracer = Tracer(patch_modules=["botocore", "httplib"])
metrics = Metrics()
