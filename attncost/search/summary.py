"""What a search found, as one typed record shared by the command line, the plots and the
report: :class:`SearchSummary` (and a :class:`TrialRow` per trial), written to and read from
JSON (``reports/search/<name>.json``) with the same field names."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import AttncostError

#: The summary field that holds each cost metric's value.
COST_KEYS = {"params": "params", "flops": "flops", "memory": "memory_bytes",
             "latency": "latency_s"}
#: Trial statuses that count as finished (interrupted ones are not counted: they rerun).
COUNTED = ("trained", "cached", "over-budget", "diverged", "pruned")


@dataclass
class TrialRow:
    """One trial: its layers, state and status, measured accuracy, exact costs, whether it
    is feasible (budget and target), and why not."""

    trial: int
    layers: list[str] | None
    state: str
    status: str
    accuracy: float | None = None
    accuracy_spread: float | None = None
    accuracies: list[float] | None = None
    params: int | None = None
    flops: int | None = None
    memory_bytes: int | None = None
    latency_s: float | None = None
    feasible: bool = False
    meets_target: bool = False
    reason: str | None = None
    cached_from: int | None = None
    train_seconds: float | None = None

    def cost(self, key: str) -> Any:
        return getattr(self, key)


@dataclass
class SearchSummary:
    """A search's answer (the best feasible trial, or the Pareto front), the standard
    baseline and every trial."""

    spec: dict[str, Any]
    study: str
    storage: str
    objective: str
    cost_metric: str
    cost_key: str
    target_accuracy: float | None
    finished_trials: int
    accuracy_source: str
    trials: list[TrialRow] = field(default_factory=list)
    baseline: TrialRow | None = None
    best: TrialRow | None = None
    pareto: list[TrialRow] | None = None
    converged: str | None = None
    elapsed_s: float | None = None

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
        row_fields = {f.name for f in fields(TrialRow)}

        def row(r: dict[str, Any] | None) -> TrialRow | None:
            return None if r is None else TrialRow(**{k: v for k, v in r.items()
                                                      if k in row_fields})

        d = {k: v for k, v in data.items() if k in known}
        d["trials"] = [row(r) for r in data.get("trials", [])]
        d["baseline"], d["best"] = row(data.get("baseline")), row(data.get("best"))
        d["pareto"] = None if data.get("pareto") is None else [row(r) for r in data["pareto"]]
        return cls(**d)

    def write(self, path: str | Path) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return p

    @classmethod
    def read(cls, path: str | Path) -> "SearchSummary":
        """A summary written by :meth:`write`; one-line errors for a missing or bad file."""
        p = Path(path)
        if not p.is_file():
            raise AttncostError(f"search summary {str(path)!r} not found (run attncost search)")
        try:
            return cls.from_dict(json.loads(p.read_text()))
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            raise AttncostError(f"search summary {str(path)!r} is not a summary attncost "
                                f"wrote: {type(e).__name__}: {e}") from None
