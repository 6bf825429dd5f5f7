"""The local stack's patches put back exactly what was there, in order, so they stack and unstack."""

from __future__ import annotations

from avatar_local.patching import replace


class Base:
    def inherited(self) -> str:
        return "base"


class Owner(Base):
    def own(self) -> str:
        return "own"


def test_patches_stack_and_unstack_in_reverse_order() -> None:
    first = replace((Owner, "own", lambda self: "first"))
    second = replace((Owner, "own", lambda self: "second"))
    assert Owner().own() == "second"
    second()
    assert Owner().own() == "first"
    first()
    assert Owner().own() == "own"


def test_an_inherited_or_missing_attribute_is_removed_again() -> None:
    undo = replace((Owner, "inherited", lambda self: "patched"), (Owner, "added", 1))
    assert Owner().inherited() == "patched"
    assert Owner.added == 1  # type: ignore[attr-defined]
    undo()
    assert "inherited" not in vars(Owner)
    assert Owner().inherited() == "base"
    assert not hasattr(Owner, "added")
