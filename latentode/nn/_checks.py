"""Parameter checks shared by the ``nn`` modules (one message format)."""

from __future__ import annotations

from collections.abc import Sequence

from latentode.exceptions import ParameterError

__all__ = ["check_choice"]


def check_choice(value: str, allowed: Sequence[str], name: str, owner: str) -> None:
    if value not in allowed:
        raise ParameterError(
            f"The '{name}' of {owner} must be a str among {sorted(allowed)}. Got {value!r} instead."
        )
