"""What a search found, as one typed record shared by the command line, the plots and the
report: :class:`SearchSummary` — the answer (the cheapest architecture certified to meet the
target, with its interval and how many runs it rests on), the standard baseline, every
architecture run (:class:`ArchitectureRow`) and every run (:class:`TrialRow`) — written to and
read from JSON (``reports/search/<name>.json``) with the same field names."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import AttncostError

if TYPE_CHECKING:
    from .evidence import Evidence

#: The summary field that holds each cost metric's value.
COST_KEYS = {"params": "params", "flops": "flops", "memory": "memory_bytes",
             "latency": "latency_s"}


@dataclass
class TrialRow:
    """One trial: one run of an architecture with a seed (or a candidate told without a
    run: over-budget, cached)."""

    trial: int
    layers: list[str] | None
    state: str
    status: str
    seed: int | None = None
    accuracy: float | None = None
    params: int | None = None
    flops: int | None = None
    memory_bytes: int | None = None
    latency_s: float | None = None
    retest: bool = False
    reason: str | None = None
    train_seconds: float | None = None
    batch: int = 0  # a confirmation run: the planned size of its batch (0: screening)

    def cost(self, key: str) -> Any:
        return getattr(self, key)


@dataclass
class ArchitectureRow:
    """One architecture and what its runs say: its mean accuracy, its confidence bounds
    (``lower``: on its confirmation runs, what certification uses; ``upper``: on its screening
    runs, what rules it out), the probability it meets the target, its standing (certified |
    confirming | open | failed | ruled-out), its exact costs and whether it fits the
    budget."""

    layers: list[str]
    state: str
    runs: int
    confirmation_runs: int
    accuracy: float | None
    confirmed_accuracy: float | None
    lower: float | None
    upper: float | None
    p_meets_target: float | None
    accuracies: list[float]
    within_budget: bool
    params: int | None = None
    flops: int | None = None
    memory_bytes: int | None = None
    latency_s: float | None = None

    def cost(self, key: str) -> Any:
        return getattr(self, key)

    @property
    def feasible(self) -> bool:
        """Certified to meet the target, and within the budget."""
        return self.state == "certified" and self.within_budget


@dataclass
class SearchSummary:
    """A search's answer (or Pareto front), the standard baseline, every architecture and
    every run."""

    spec: dict[str, Any]
    study: str
    storage: str
    objective: str
    cost_metric: str
    cost_key: str
    target_accuracy: float | None
    confidence: float
    evaluations: int
    noise_sd: float
    accuracy_source: str
    best: ArchitectureRow | None = None
    baseline: ArchitectureRow | None = None
    pareto: list[ArchitectureRow] | None = None
    architectures: list[ArchitectureRow] = field(default_factory=list)
    trials: list[TrialRow] = field(default_factory=list)
    converged: str | None = None
    elapsed_s: float | None = None
    latency_source: str | None = None  # roofline, a profile's prediction, or measured

    @property
    def name(self) -> str:
        return self.spec["name"]

    def statuses(self) -> dict[str, int]:
        """How many trials ended in each status, by status name."""
        out: dict[str, int] = {}
        for t in self.trials:
            out[t.status] = out.get(t.status, 0) + 1
        return dict(sorted(out.items()))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SearchSummary":
        known = {f.name for f in fields(cls)}

        def rows(kind: type, items: Any) -> Any:
            names = {f.name for f in fields(kind)}
            if items is None:
                return None
            if isinstance(items, dict):
                return kind(**{k: v for k, v in items.items() if k in names})
            return [kind(**{k: v for k, v in r.items() if k in names}) for r in items]

        d = {k: v for k, v in data.items() if k in known}
        d["trials"] = rows(TrialRow, data.get("trials", []))
        d["architectures"] = rows(ArchitectureRow, data.get("architectures", []))
        for key in ("best", "baseline"):
            d[key] = rows(ArchitectureRow, data.get(key))
        d["pareto"] = rows(ArchitectureRow, data.get("pareto"))
        return cls(**d)

    def write(self, path: str | Path) -> Path:
        from ..files import write_text

        return write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def read(cls, path: str | Path) -> "SearchSummary":
        """A summary written by :meth:`write`; one-line errors for a missing or bad file."""
        p = Path(path)
        if not p.is_file():
            raise AttncostError(f"search summary {str(path)!r} not found (run attncost search)")
        try:
            return cls.from_dict(json.loads(p.read_text()))
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            raise AttncostError(f"search summary {str(path)!r} is not a summary this attncost "
                                f"wrote: {type(e).__name__}: {e}") from None


def trial_row(t: Any) -> TrialRow:
    a = t.user_attrs
    running = t.state.name == "RUNNING"
    return TrialRow(trial=t.number, layers=a.get("layers"), state=t.state.name.lower(),
                    status=a.get("status") or ("running" if running else "interrupted"),
                    seed=a.get("seed"),
                    accuracy=a.get("accuracy"), params=a.get("params"), flops=a.get("flops"),
                    memory_bytes=a.get("memory_bytes"), latency_s=a.get("latency_s"),
                    retest=bool(a.get("retest")), reason=a.get("reason"),
                    train_seconds=a.get("train_seconds"), batch=int(a.get("batch", 0)))


def architecture_row(ev: "Evidence", arch: tuple[str, ...], costs: dict[str, Any],
                     within_budget: bool) -> ArchitectureRow:
    d = ev.summary(ev.candidates[arch])
    return ArchitectureRow(layers=list(arch), state=d["state"], runs=d["runs"],
                           confirmation_runs=d["confirmation_runs"], accuracy=d["accuracy"],
                           confirmed_accuracy=d["confirmed_accuracy"], lower=d["lower"], upper=d["upper"],
                           p_meets_target=d["p_meets_target"], accuracies=d["accuracies"],
                           within_budget=within_budget,
                           **{k: costs.get(k) for k in ("params", "flops", "memory_bytes",
                                                         "latency_s")})


def summarise(spec: Any, study: Any, trainer: Any, elapsed_s: float | None = None
              ) -> SearchSummary:
    """The answer (single-objective) or the Pareto front (multi), the baseline, every
    architecture and every run of ``study``."""
    from .objective import latency_source
    from .runner import make_loop
    from .storage import storage_for

    loop = make_loop(spec, study, trainer)
    ev = loop.evidence()

    def row(arch: tuple[str, ...]) -> ArchitectureRow:
        return architecture_row(ev, arch, trainer.cost_attrs(arch), trainer.space().budget_ok(arch))

    archs = sorted(ev.candidates, key=lambda a: ev.candidates[a].cost)
    baseline = ("standard",) * spec.layers
    out = SearchSummary(
        spec=spec.as_dict(), study=study.study_name, storage=storage_for(spec),
        objective=spec.objective, cost_metric=spec.cost_metric,
        cost_key=COST_KEYS[spec.cost_metric], target_accuracy=spec.target_accuracy,
        confidence=spec.confidence, evaluations=ev.evaluations, noise_sd=ev.sigma,
        accuracy_source=f"measured: runs of {spec.steps} training steps of {spec.task} on the "
                        f"held-out split, one seed each; re-tests with fresh seeds",
        architectures=[row(a) for a in archs],
        trials=[trial_row(t) for t in study.trials],
        baseline=row(baseline) if baseline in ev.candidates else None,
        converged=study.user_attrs.get("converged"), elapsed_s=elapsed_s,
        latency_source=latency_source(spec))
    if spec.multi:
        out.pareto = [row(c.arch) for c in ev.pareto_front()]
    else:
        answer = ev.answer()
        out.best = row(answer.arch) if answer is not None else None
    return out
