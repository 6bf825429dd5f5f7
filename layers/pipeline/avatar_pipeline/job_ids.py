"""Job ids a user can find: a derived id is the trigger's file stem, slugged, plus a short hash of the trigger.

``alice.json`` dropped under ``jobs/`` becomes ``alice-3f9a1c2e``; the same content re-uploaded (same ETag) is
the same job, changed content a new one. Runs whose input names no file and no id are recorded under
``execution:<name>``, a key no job id can take (``:`` is not allowed in one), so a caller cannot squat it.
"""

from __future__ import annotations

import hashlib
import posixpath
import re

from .models import JobRef, Origin
from .request_rules import JOB_ID_PATTERN

MAX_SLUG_CHARS = 48
HASH_CHARS = 8
EXECUTION_NAMESPACE = "execution:"
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def derived_job_id(stem: str, fingerprint: str) -> str:
    """Deterministic, so a re-delivered trigger maps to the same job and is claimed only once."""
    slug = _NOT_SLUG.sub("-", stem.lower()).strip("-")[:MAX_SLUG_CHARS].strip("-") or "job"
    return f"{slug}-{hashlib.sha256(fingerprint.encode()).hexdigest()[:HASH_CHARS]}"


def batch_row_job_id(batch_key: str, row: int, content: str) -> str:
    """A batch row's id when it names none: the batch file's stem and the row, plus a hash of the file's key, the
    row number and the row's content. Re-dropping the file maps each unchanged row to the same job (finished rows
    are not paid again, failed ones run again); an edited row is a new job."""
    stem = posixpath.basename(posixpath.splitext(batch_key)[0])
    return derived_job_id(f"{stem[: MAX_SLUG_CHARS - 8]}-{row}", f"{batch_key}|{row}|{content}")


def execution_ref(execution_name: str) -> JobRef:
    """Whom a run is about when nothing names a job: its execution, in a namespace no job id can take."""
    return JobRef(job_id=f"{EXECUTION_NAMESPACE}{execution_name}", origin=Origin.execution(execution_name))


def well_formed_job_id(value: object) -> str | None:
    """The caller's job id when it is one the request model would accept, else None."""
    if isinstance(value, str) and JOB_ID_PATTERN.fullmatch(value) and ".." not in value:
        return value
    return None
