"""Search: which attention variant should each layer use? (imports Optuna and torch lazily)

* :mod:`attncost.search.spec` — the TOML specification (``search/*.toml``) and its checks.
* :mod:`attncost.search.space` — exact costs of a candidate from the cost model.
* :mod:`attncost.search.sampler` — attncost's cost-aware Optuna sampler.
* :mod:`attncost.search.study` — storage, pruner, the objective (real training), workers.
* :mod:`attncost.search.benchmark` — regret against an exact optimum on a black box.
* :mod:`attncost.search.surrogate` — accuracy predicted from measured runs (labelled).
"""

from .spec import SearchSpec, SpecError, load_spec, parse_spec

__all__ = ["SearchSpec", "SpecError", "load_spec", "parse_spec"]
