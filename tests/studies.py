"""What the search tests share: a tiny spec (two layers on digits, seconds per run), the
command that runs it, and the checks every multi-process study must pass."""

from __future__ import annotations

import json
import sys
from pathlib import Path

TINY = {
    "search": {"name": "tiny", "task": "digits", "objective": "params", "trials": 4,
               "sampler": "random", "seed": 0},
    "model": {"layers": 2, "d_model": 16, "heads": 2, "d_ff": 32, "batch": 4},
    "candidates": {"variants": ["standard", "efficient", "linformer"]},
    "target": {"accuracy": 0.3},
    "training": {"steps": 3, "batch": 16, "seeds": 1, "eval_every": 3},
}


def tiny(tmp_path: Path, **sections: dict) -> Path:
    """The tiny spec with ``sections`` merged in, written to ``tmp_path/tiny.toml``; its
    study in ``tmp_path/study.journal`` unless the search section names a storage."""
    data = json.loads(json.dumps(TINY))
    for section, body in sections.items():
        data.setdefault(section, {}).update(body)
    data["search"].setdefault("storage", str(tmp_path / "study.journal"))
    lines = []
    for section, body in data.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in body.items()]
    path = tmp_path / "tiny.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def search_cmd(spec: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "attncost", "search", str(spec), *extra]


def study_of(spec_path: Path):
    """The spec's study, opened as a search would open it."""
    from attncost.search import runner
    from attncost.search.spec import load_spec

    study, _ = runner.open_study(load_spec(spec_path))
    return study


def check_each_run_once(spec_path: Path, budget: int, workers: int | None = None) -> None:
    """The study of ``spec_path``, after every process ended: the budget is study-wide
    (never exceeded; at most a few short when too little is left to screen and confirm a
    new candidate), no (architecture, seed) trained twice, the baseline trained once, no
    trial left running, and ``workers`` distinct processes ran trials."""
    from attncost.search import runner
    from attncost.search.evidence import EVALUATED

    study = study_of(spec_path)
    numbers = [t.number for t in study.trials]
    assert sorted(numbers) == list(range(len(numbers)))
    assert budget - 5 < runner.counted_trials(study) <= budget
    runs = [(tuple(t.user_attrs["layers"]), t.user_attrs["seed"]) for t in study.trials
            if t.user_attrs.get("status") in EVALUATED]
    assert len(runs) == len(set(runs)), "an (architecture, seed) was trained twice"
    baselines = [t for t in study.trials if t.user_attrs.get("baseline")
                 and t.user_attrs.get("status") in EVALUATED]
    assert len(baselines) == 1, "the baseline was trained more than once"
    for t in study.trials:
        assert t.state.name in ("COMPLETE", "PRUNED", "FAIL")
    if workers is not None:
        ran = {t.user_attrs.get("worker") for t in study.trials
               if t.user_attrs.get("status") in EVALUATED}
        assert len(ran) == workers, ran
