"""Search: which attention variant should each layer use? (imports Optuna and torch lazily)

One module per concept, in Optuna's manner:

* :mod:`~attncost.search.spec` — the TOML specification (``search/*.toml``) and its checks.
* :mod:`~attncost.search.space` — exact costs of a candidate; the per-layer :class:`LayerSpace`.
* :mod:`~attncost.search.samplers` — the table of samplers (``attncost``, ``tpe``, ...).
* :mod:`~attncost.search.tasks` — the task registry (built-in and user tasks) and training.
* :mod:`~attncost.search.objective` — one trial: costs, budget, training or cache.
* :mod:`~attncost.search.pruners`, :mod:`~attncost.search.storage` — pruning; journal or database.
* :mod:`~attncost.search.runner` — run or resume a study, workers, recovery.
* :mod:`~attncost.search.summary` — :class:`SearchSummary`, read by the CLI, plots and report.
* :mod:`~attncost.search.benchmark` — regret against an exact optimum on black boxes.
* :mod:`~attncost.search.surrogate` — accuracy predicted from measured runs (labelled).
"""

from .spec import SearchSpec, SpecError, load_spec, parse_spec
from .summary import SearchSummary, TrialRow

__all__ = ["SearchSpec", "SearchSummary", "SpecError", "TrialRow", "load_spec", "parse_spec"]
