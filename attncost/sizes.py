"""Sizes are exact Python ints or sympy expressions; these helpers treat both alike."""

from __future__ import annotations

from typing import Any, Iterable

Size = Any  # int or sympy.Expr


def is_symbolic(x: Any) -> bool:
    """Whether ``x`` is a sympy expression rather than a number."""
    return hasattr(x, "free_symbols")


def total(items: Iterable[Size]) -> Size:
    """Sum that stays an exact int for ints and builds one flat sympy Add for expressions."""
    items = list(items)
    if any(is_symbolic(i) for i in items):
        import sympy

        return sympy.Add(*items)
    return sum(items)
