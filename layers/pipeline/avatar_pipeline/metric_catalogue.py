"""Every metric the dashboard and the alarms read: its name, unit and dimension, in one place.

The handlers emit them through ``job_metrics.emit`` (and nothing else), and ``avatar_local.dashboard`` builds the
dashboard and the per-provider alarms from this list, so a widget cannot name a metric the code does not emit.

Dimensions, as CloudWatch identifies a metric by its full set:

- ``Provider``: the provider id (``wavespeed/omnihuman-1.5``), on every per-job metric;
- ``ProviderAccount``: the provider account (``wavespeed``, ``volcengine``, ``kling``: a provider id's part before the
  ``/``), on the slot metrics, since the admission slots belong to the account (the three WaveSpeed models share one);
- ``service``: Powertools adds it to every metric (``POWERTOOLS_SERVICE_NAME``, ``avatar-pipeline`` in the template).

So every metric here has exactly two dimensions: ``service`` and either ``Provider`` or ``ProviderAccount``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Dimension = Literal["Provider", "ProviderAccount"]
Unit = Literal["Count", "Seconds", "None"]
PROVIDER: Dimension = "Provider"
PROVIDER_ACCOUNT: Dimension = "ProviderAccount"
SERVICE = "service"


@dataclass(frozen=True)
class MetricSpec:
    name: str
    unit: Unit
    dimension: Dimension
    description: str

    @property
    def dimensions(self) -> frozenset[str]:
        """The metric's full dimension set, as emitted."""
        return frozenset({SERVICE, self.dimension})


JOBS_SUCCEEDED = MetricSpec("JobsSucceeded", "Count", PROVIDER, "job attempts that ended SUCCEEDED")
JOBS_FAILED = MetricSpec("JobsFailed", "Count", PROVIDER, "job attempts that ended FAILED (the reconciler's too)")
JOBS_CANCELLED = MetricSpec("JobsCancelled", "Count", PROVIDER, "job attempts that ended CANCELLED")
GENERATION_SECONDS = MetricSpec(
    "GenerationSeconds", "Seconds", PROVIDER, "submit to the provider's completion (else to our detection)"
)
DETECTION_LAG_SECONDS = MetricSpec(
    "DetectionLagSeconds", "Seconds", PROVIDER, "the provider's completion to our detection, where it reports one"
)
QUEUE_WAIT_SECONDS = MetricSpec("QueueWaitSeconds", "Seconds", PROVIDER, "how long a job waited for a slot (0: none)")
ESTIMATED_SPEND_USD = MetricSpec("EstimatedSpendUsd", "None", PROVIDER, "a succeeded job's estimated cost, USD")
SLOTS_IN_USE = MetricSpec("SlotsInUse", "Count", PROVIDER_ACCOUNT, "provider slots held, each dispatcher run")
SLOT_LIMIT = MetricSpec("SlotLimit", "Count", PROVIDER_ACCOUNT, "the account's ProviderConcurrency")
OLDEST_QUEUED_SECONDS = MetricSpec(
    "OldestQueuedSeconds", "Seconds", PROVIDER_ACCOUNT, "age of the account's oldest QUEUED job (0: none)"
)

CATALOGUE: tuple[MetricSpec, ...] = (
    JOBS_SUCCEEDED,
    JOBS_FAILED,
    JOBS_CANCELLED,
    GENERATION_SECONDS,
    DETECTION_LAG_SECONDS,
    QUEUE_WAIT_SECONDS,
    ESTIMATED_SPEND_USD,
    SLOTS_IN_USE,
    SLOT_LIMIT,
    OLDEST_QUEUED_SECONDS,
)
