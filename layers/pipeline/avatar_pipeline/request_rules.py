"""The job request's string rules (contract: the forms of ``job_id`` and ``output_prefix``), as annotated types."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

JOB_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
OUTPUT_PREFIX_PATTERN = re.compile(r"^[A-Za-z0-9!_.*'()/-]*$")


def _check_output_prefix(value: str) -> str:
    if not value:
        return value
    if value.startswith("/"):
        raise ValueError("must not start with '/'")
    if not value.endswith("/"):
        raise ValueError("must end with '/' (for example 'campaign-7/')")
    if not OUTPUT_PREFIX_PATTERN.fullmatch(value):
        raise ValueError("may only contain letters, digits, '/' and !_.*'()-")
    segments = value[:-1].split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        raise ValueError("must not contain empty, '.' or '..' segments")
    return value


def _check_job_id(value: str) -> str:
    if not JOB_ID_PATTERN.fullmatch(value) or ".." in value:
        raise ValueError(
            "must be 1-64 letters, digits, '.', '_' or '-', start with a letter or digit, and not contain '..'"
        )
    return value


OutputPrefix = Annotated[str, AfterValidator(_check_output_prefix)]
JobId = Annotated[str, AfterValidator(_check_job_id)]
