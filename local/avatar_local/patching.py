"""Replacing attributes of moto's classes, and putting back exactly what was there."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_ABSENT = object()


def replace(*replacements: tuple[Any, str, Any]) -> Callable[[], None]:
    """Sets each ``(owner, name, value)``; returns the function that puts back what each owner itself held (or removes
    the attribute, so an inherited one shows through again), in reverse order, so patches stack and unstack."""
    saved = [(owner, name, vars(owner).get(name, _ABSENT)) for owner, name, _ in replacements]
    for owner, name, value in replacements:
        setattr(owner, name, value)

    def undo() -> None:
        for owner, name, value in reversed(saved):
            if value is _ABSENT:
                delattr(owner, name)
            else:
                setattr(owner, name, value)

    return undo
