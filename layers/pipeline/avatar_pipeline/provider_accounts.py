"""Provider accounts (contract: Provider admission): which account a provider id bills, the accounts' limits as
``ProviderConcurrency`` writes them, and what a slot is held by."""

from __future__ import annotations


def account_of(provider: str) -> str:
    """The provider account a provider id bills: the three WaveSpeed models share one."""
    return provider.split("/", 1)[0]


def slot_key(job_id: str, attempt: int) -> str:
    """A slot is held by one attempt of one job."""
    return f"{job_id}#{attempt}"


def parse_limits(text: str) -> dict[str, int]:
    """``wavespeed=10,volcengine=2,kling=5``; an account not named (or 0) is not limited."""
    limits: dict[str, int] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        account, separator, value = part.partition("=")
        if not separator or not account.strip() or not value.strip().isdigit():
            raise ValueError(f"ProviderConcurrency expects account=N pairs separated by commas, got {part!r}")
        limits[account.strip()] = int(value)
    return limits
