"""The searchers a search can use: one table of names → factories, read by the spec, the
command line and ``attncost search-bench``.

Every factory takes a :class:`SamplerContext` and returns either a proposer (an object with
``propose(evidence, pending)``, like attncost's :class:`~.attncost.CostAwareGP`) or an Optuna
sampler, which proposes through the study (constraints read from each trial's
``set_constraint`` values, Optuna ≥ 5). Either way the search loop
(:mod:`attncost.search.loop`) decides re-tests and the answer.
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


def _needs_space(ctx: SamplerContext, name: str) -> None:
    if ctx.space is None or ctx.target is None:
        raise AttncostError(f"the {name} sampler needs the layer space and a target")


def _attncost(ctx: SamplerContext) -> Any:
    if ctx.multi:
        ctx.note("note: the attncost sampler is single-objective; multi-objective uses NSGA-II")
        return _nsga2(ctx)
    _needs_space(ctx, "attncost")
    from .attncost import CostAwareGP

    return CostAwareGP(ctx.space, ctx.target, ctx.seed)


def _thompson(ctx: SamplerContext) -> Any:
    """The first attncost sampler (a logit-linear model of positions and adjacent pairs,
    Thompson draws, an exact DP): excellent when accuracy has that form, lost otherwise."""
    if ctx.multi:
        return _nsga2(ctx)
    _needs_space(ctx, "thompson")
    from .costaware import make_optuna_sampler

    return make_optuna_sampler(ctx.space, ctx.target, ctx.chance, ctx.seed)


def _gp(ctx: SamplerContext) -> Any:
    import optuna

    return optuna.samplers.GPSampler(seed=ctx.seed, n_startup_trials=10)


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
    "gp": _gp,
    "random": _random,
    "thompson": _thompson,
}

#: Samplers that plan with the exact per-layer costs (they need the layer space).
NEEDS_SPACE = ("attncost", "thompson")


def check_sampler(name: str) -> str:
    if name not in SAMPLERS:
        raise unknown("sampler", name, SAMPLERS)
    return name


def make_sampler(name: str, ctx: SamplerContext) -> Any:
    """The Optuna sampler called ``name`` (:data:`SAMPLERS`)."""
    return SAMPLERS[check_sampler(name)](ctx)
