"""The samplers a search can use: one table of names → factories, read by the spec, the
command line and ``attncost search-bench``.

Every factory takes a :class:`SamplerContext` and returns an Optuna sampler. Constraints are
read from each trial's ``set_constraint`` values by all of them (Optuna ≥ 5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ...errors import AttncostError, unknown


@dataclass
class SamplerContext:
    """What a sampler may need: its seed, the layer space with exact costs (single-objective
    searches), the accuracy target and chance level, and whether the search is
    multi-objective."""

    seed: int = 0
    space: Any = None
    target: float | None = None
    chance: float = 0.0
    multi: bool = False
    note: Callable[[str], None] = print


def _attncost(ctx: SamplerContext) -> Any:
    if ctx.multi:
        ctx.note("note: the attncost sampler is single-objective; multi-objective uses NSGA-II")
        return _nsga2(ctx)
    if ctx.space is None or ctx.target is None:
        raise AttncostError("the attncost sampler needs the layer space and a target")
    from .costaware import make_optuna_sampler

    return make_optuna_sampler(ctx.space, ctx.target, ctx.chance, ctx.seed)


def _tpe(ctx: SamplerContext) -> Any:
    import optuna

    return optuna.samplers.TPESampler(seed=ctx.seed, multivariate=True, constant_liar=True)


def _nsga2(ctx: SamplerContext) -> Any:
    import optuna

    return optuna.samplers.NSGAIISampler(seed=ctx.seed, population_size=20)


def _random(ctx: SamplerContext) -> Any:
    import optuna

    return optuna.samplers.RandomSampler(seed=ctx.seed)


#: name → factory, in the order help texts list them (the first is the default).
SAMPLERS: dict[str, Callable[[SamplerContext], Any]] = {
    "attncost": _attncost,
    "tpe": _tpe,
    "nsga2": _nsga2,
    "random": _random,
}

#: Samplers that plan with the exact per-layer costs (they need the layer space).
NEEDS_SPACE = ("attncost",)


def check_sampler(name: str) -> str:
    if name not in SAMPLERS:
        raise unknown("sampler", name, SAMPLERS)
    return name


def make_sampler(name: str, ctx: SamplerContext) -> Any:
    """The Optuna sampler called ``name`` (:data:`SAMPLERS`)."""
    return SAMPLERS[check_sampler(name)](ctx)
