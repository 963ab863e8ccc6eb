"""Search: which attention variant should each layer use? (imports Optuna and torch lazily)

One module per concept, in Optuna's manner:

* :mod:`~attncost.search.spec` — the TOML specification (``search/*.toml``) and its checks.
* :mod:`~attncost.search.space` — exact costs of a candidate; the per-layer :class:`LayerSpace`.
* :mod:`~attncost.search.samplers` — the table of samplers (``attncost``, ``tpe``, ...).
* :mod:`~attncost.search.tasks` — the task registry (built-in and user tasks) and training.
* :mod:`~attncost.search.loop` — the loop every search runs through, and
  :func:`blackbox_search` (a search with any evaluator).
* :mod:`~attncost.search.evidence` — what the runs say: certified, ruled out, the answer.
* :mod:`~attncost.search.objective` — one evaluation of a real search: training one seed.
* :mod:`~attncost.search.pruners`, :mod:`~attncost.search.storage` — pruning; journal or database.
* :mod:`~attncost.search.runner` — run or resume a study, workers, recovery.
* :mod:`~attncost.search.summary` — :class:`SearchSummary`, read by the CLI, plots and report.
* :mod:`~attncost.search.benchmark` — regret against an exact optimum on black boxes.
* :mod:`~attncost.search.surrogate` — accuracy predicted from measured runs (labelled).
"""

from typing import Any

from .spec import SearchSpec, SpecError, load_spec, parse_spec
from .summary import SearchSummary, TrialRow


def blackbox_search(*args: Any, **kwargs: Any) -> Any:
    """:func:`attncost.search.loop.blackbox_search` (imported when called: it needs
    Optuna)."""
    from .loop import blackbox_search as search

    return search(*args, **kwargs)


def layer_space(*args: Any, **kwargs: Any) -> Any:
    """:func:`attncost.search.space.layer_space`."""
    from .space import layer_space as make

    return make(*args, **kwargs)


def space_for(*args: Any, **kwargs: Any) -> Any:
    """:func:`attncost.search.space.space_for`: the search space of a skeleton."""
    from .space import space_for as make

    return make(*args, **kwargs)


__all__ = ["SearchSpec", "SearchSummary", "SpecError", "TrialRow", "blackbox_search",
           "layer_space", "load_spec", "parse_spec", "space_for"]
