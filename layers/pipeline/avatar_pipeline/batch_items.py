"""The shapes a batch takes between its steps: PrepareBatch writes its rows as ``BatchItem``s and returns a
``BatchSummary``, each row's job execution reads its ``BatchItem``, ReportBatch reads both back. Apart from reading
the batch file (``batches``), so that the steps that only read these import no parser of S3 events or of CSV."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter

from .models import S3Location


class BatchRef(BaseModel):
    """Which batch: ``key`` is the batch file's ``s3://`` URI, ``folder`` its folder key (relative media resolve
    against it)."""

    model_config = ConfigDict(frozen=True)

    name: str
    batch_id: str
    key: str
    folder: str


class BatchItem(BaseModel):
    """One row as the Map hands it to a job execution. ``request`` is None for a bad row, and ``problem`` says
    why (``row 7: not a JSON object (line 7)``); its job id is still derived, so its failure is recorded."""

    batch: BatchRef
    row: int
    job_id: str
    request: dict[str, Any] | None
    problem: str | None


BATCH_ITEMS = TypeAdapter(list[BatchItem])


class BatchSummary(BaseModel):
    """PrepareBatch's output: where the Map reads the items, and what ReportBatch reports on."""

    batch: BatchRef
    items: S3Location
    rows: int
    bad_rows: int


class BatchIgnored(BaseModel):
    """An object that is not a batch file: the execution ends quietly."""

    ignored: str
