"""Giving a job attempt's provider slot back, from any step that ends it: CheckStatus (the provider finished),
RecordOutcome (the job ended), Reconcile (the execution ended outside the state machine), AdmitJob (the provider
throttled). Whoever frees a slot asks the dispatcher, asynchronously, to hand it to the oldest waiter."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BeforeValidator, Field

from . import aws
from .admission import AdmissionStore
from .observability import logger
from .provider_accounts import account_of, parse_limits, slot_key
from .settings import EnvSettings, JobDeadlineSeconds

# Past the longest a job may hold a slot (its generation deadline), a lease frees the slot anyway.
LEASE_MARGIN_SECONDS = 900

Limits = Annotated[dict[str, int], BeforeValidator(parse_limits), Field(alias="PROVIDER_CONCURRENCY")]


class AdmissionSettings(EnvSettings):
    """The admission table, and how many tasks each provider account may have in flight."""

    admission_table: str = Field(alias="ADMISSION_TABLE")
    provider_concurrency: Limits
    job_deadline_seconds: JobDeadlineSeconds = 10800


class SlotsSettings(AdmissionSettings):
    """As above, plus the dispatcher asked to hand a freed slot on."""

    dispatcher_function: str = Field(alias="DISPATCHER_FUNCTION")


def admission_store(settings: AdmissionSettings) -> AdmissionStore:
    return AdmissionStore(
        table=settings.admission_table,
        dynamodb=aws.dynamodb(),
        limits=settings.provider_concurrency,
        lease_seconds=settings.job_deadline_seconds + LEASE_MARGIN_SECONDS,
    )


@dataclass(frozen=True)
class Slots:
    store: AdmissionStore
    dispatcher: str

    @classmethod
    def from_settings(cls, settings: SlotsSettings) -> Slots:
        return cls(store=admission_store(settings), dispatcher=settings.dispatcher_function)

    def free(self, provider: str | None, job_id: str, attempt: int) -> None:
        if not provider or attempt < 1:
            return
        account = account_of(provider)
        if self.store.release(account, slot_key(job_id, attempt)):
            self.notify(account)

    def notify_if_free(self, account: str) -> None:
        """For a job that just joined the queue: a slot freed between its AdmitJob and now would find no waiter to
        hand it to, so the dispatcher is asked only if a slot is free. A slot freed later is handed on by whoever
        frees it; the job is in the queue by then."""
        if self.store.limit(account) > int(self.store.slots(account).get("in_use", 0)):
            self.notify(account)

    def notify(self, account: str) -> None:
        try:
            aws.lambda_client().invoke(
                FunctionName=self.dispatcher, InvocationType="Event", Payload=json.dumps({"accounts": [account]})
            )
        except (ClientError, BotoCoreError) as error:
            # The scheduled dispatch hands the slot on within a minute: no job fails for want of this call.
            logger.warning("the dispatcher could not be asked", extra={"account": account, "error": str(error)})
