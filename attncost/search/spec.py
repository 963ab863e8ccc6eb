"""A search specification: one TOML file in ``search/`` per real question.

Sections (every field optional unless marked; see ``search/*.toml`` for worked examples)::

    [search]     name, task (required: a registered task, e.g. digits | mqar), objective
                 (params | flops | memory | latency | multi), cost (the cost a multi-objective
                 search trades against accuracy: params | flops | memory | latency), trials
                 (the evaluation budget: training runs, re-tests included, study-wide),
                 sampler (a name of attncost.search.samplers.SAMPLERS), seed, storage,
                 workers, confidence (that the answer meets the target; default 0.95)
    [model]      layers (required), d_model, heads, d_ff or ffn_mult, batch (the batch the
                 budget is checked at), dtype
    [candidates] variants (required: one list for every layer), layer_<i> (a list for layer
                 i), linformer_k, kv_heads
    [target]     accuracy (required for single-objective searches)
    [budget]     device, mode (train | infer), memory (bytes or "8GB"), latency_ms, headroom
    [training]   steps, batch, lr, seeds (runs every architecture not ruled out gets; the
                 loop re-tests near the target with fresh seeds), eval_every
    [task]       the task's own options (its declared schema; e.g. digits: patch_size)

Every error names the file's field (``[budget] memory``) and what is allowed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..config import AttentionConfig, ModelConfig
from ..devices import get_device
from ..errors import AttncostError
from ..files import read_toml
from ..graphs import model_graph
from ..units import parse_bytes
from ..variants import names as variant_names
from .samplers import SAMPLERS
from .tasks import get_task, task_names

OBJECTIVES = ("params", "flops", "memory", "latency", "multi")
COSTS = ("params", "flops", "memory", "latency")
MODES = ("train", "infer")

_SECTIONS: dict[str, tuple[str, ...]] = {
    "search": ("name", "task", "objective", "cost", "trials", "sampler", "seed", "storage",
               "workers", "description", "confidence"),
    "model": ("layers", "d_model", "heads", "d_ff", "ffn_mult", "batch", "dtype"),
    "candidates": ("variants", "linformer_k", "kv_heads"),
    "target": ("accuracy",),
    "budget": ("device", "mode", "memory", "latency_ms", "headroom"),
    "training": ("steps", "batch", "lr", "seeds", "eval_every"),
    "task": (),  # the task's own options (its declared schema)
}


class SpecError(AttncostError):
    """A search specification is invalid; the message names the field."""


@dataclass(frozen=True)
class SearchSpec:
    """Everything a search needs, validated."""

    name: str
    task: str
    layers: int
    choices: tuple[tuple[str, ...], ...]  # the candidate variants of each layer
    objective: str = "latency"
    cost: str = "latency"
    trials: int = 30
    sampler: str = "attncost"
    seed: int = 0
    storage: str | None = None
    workers: int = 1
    description: str = ""
    d_model: int = 64
    heads: int = 4
    d_ff: int | None = None
    ffn_mult: float = 2.0
    batch: int = 64
    dtype: str = "fp32"
    linformer_k: int | None = None
    kv_heads: int | None = None
    target_accuracy: float | None = None
    device: str | None = None
    mode: str = "train"
    memory_bytes: int | None = None
    latency_ms: float | None = None
    headroom: float = 0.1
    confidence: float = 0.95
    steps: int = 300
    train_batch: int = 64
    lr: float = 3e-3
    seeds: int = 1
    eval_every: int = 50
    task_options: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    plugins: tuple[str, ...] = ()  # Python files worker processes load (variants, tasks)

    @property
    def multi(self) -> bool:
        return self.objective == "multi"

    @property
    def cost_metric(self) -> str:
        """The cost being minimised (single) or traded against accuracy (multi)."""
        return self.cost if self.multi else self.objective

    def attention(self, options: bool = True) -> AttentionConfig:
        """The skeleton's attention at the task's sequence length (``options``: with the
        candidates' linformer_k and kv_heads)."""
        seq_len = get_task(self.task).seq_len(self.task_options)
        extra = dict(k=self.linformer_k, kv_heads=self.kv_heads) if options else {}
        return AttentionConfig(d_model=self.d_model, heads=self.heads, batch=self.batch,
                               dtype=self.dtype, seq_len=seq_len, **extra)

    def model(self, arch: tuple[str, ...], attention: AttentionConfig | None = None
              ) -> ModelConfig:
        """The model a candidate trains: the task's input and head around the skeleton."""
        return get_task(self.task).model(tuple(arch), attention or self.attention(),
                                         self.task_options, d_ff=self.d_ff,
                                         ffn_mult=self.ffn_mult)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["choices"] = [list(c) for c in self.choices]
        return out


def _err(section: str, key: str, value: Any, allowed: str) -> SpecError:
    return SpecError(f"[{section}] {key} = {value!r} is invalid: {allowed}")


def _int(section: str, key: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _err(section, key, value, f"must be an integer ≥ {minimum}")
    return value


def _float(section: str, key: str, value: Any, lo: float, hi: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(value) or value < lo or (hi is not None and value > hi):
        rng = f"in [{lo}, {hi}]" if hi is not None else f"≥ {lo}"
        raise _err(section, key, value, f"must be a number {rng}")
    return float(value)


def _one_of(section: str, key: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise _err(section, key, value, f"allowed: {', '.join(allowed)}")
    return value


def _check_sections(data: dict[str, Any]) -> None:
    for section, body in data.items():
        if section not in _SECTIONS:
            raise SpecError(f"unknown section [{section}]; allowed: {', '.join(_SECTIONS)}")
        if not isinstance(body, dict):
            raise SpecError(f"[{section}] must be a table")
        for key in body:
            if key not in _SECTIONS[section] and section != "task" and not (
                    section == "candidates" and key.startswith("layer_")):
                raise SpecError(f"unknown field [{section}] {key}; allowed: "
                                f"{', '.join(_SECTIONS[section])}"
                                f"{', layer_<i>' if section == 'candidates' else ''}")


def _search_section(s: dict[str, Any], source: str) -> dict[str, Any]:
    if "task" not in s:
        raise SpecError(f"[search] task is required; allowed: {', '.join(task_names())}")
    out: dict[str, Any] = {"task": _one_of("search", "task", s["task"], tuple(task_names()))}
    out["name"] = str(s.get("name", Path(source).stem if source != "<spec>" else "search"))
    if not out["name"].replace("-", "").replace("_", "").isalnum():
        raise _err("search", "name", out["name"], "letters, digits, - and _ only")
    out["objective"] = _one_of("search", "objective", s.get("objective", "latency"), OBJECTIVES)
    out["cost"] = _one_of("search", "cost", s.get("cost", "latency"), COSTS)
    out["trials"] = _int("search", "trials", s.get("trials", 30))
    out["sampler"] = _one_of("search", "sampler", s.get("sampler", "attncost"), tuple(SAMPLERS))
    out["seed"] = _int("search", "seed", s.get("seed", 0), 0)
    out["workers"] = _int("search", "workers", s.get("workers", 1))
    if "confidence" in s:
        out["confidence"] = _float("search", "confidence", s["confidence"], 0.5, 0.999)
    out["description"] = str(s.get("description", ""))
    if "storage" in s:
        if not isinstance(s["storage"], str) or not s["storage"]:
            raise _err("search", "storage", s["storage"],
                       "a journal file path or a database URL (postgresql://…)")
        out["storage"] = s["storage"]
    return out


def _model_section(m: dict[str, Any]) -> dict[str, Any]:
    if "layers" not in m:
        raise SpecError("[model] layers is required (the number of transformer blocks)")
    out: dict[str, Any] = {"layers": _int("model", "layers", m["layers"])}
    for key in ("d_model", "heads", "batch", "d_ff"):
        if key in m:
            out[key] = _int("model", key, m[key])
    if "ffn_mult" in m:
        out["ffn_mult"] = _float("model", "ffn_mult", m["ffn_mult"], 0.0625)
    if "dtype" in m:
        out["dtype"] = str(m["dtype"])
    return out


def _candidates_section(c: dict[str, Any], layers: int) -> dict[str, Any]:
    known = set(variant_names())
    if "variants" not in c:
        raise SpecError("[candidates] variants is required (a list of variant names)")

    def variants_list(key: str, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            raise _err("candidates", key, value, "a non-empty list of variant names")
        for v in value:
            if v not in known:
                raise _err("candidates", key, v, f"allowed: {', '.join(sorted(known))}")
        if len(set(value)) != len(value):
            raise _err("candidates", key, value, "each variant at most once")
        return tuple(value)

    choices = [variants_list("variants", c["variants"])] * layers
    for key, value in c.items():
        if key.startswith("layer_"):
            idx = key.removeprefix("layer_")
            if not idx.isdigit() or int(idx) >= layers:
                raise _err("candidates", key, value, f"layer_0 … layer_{layers - 1}")
            choices[int(idx)] = variants_list(key, value)
    out: dict[str, Any] = {"choices": tuple(choices)}
    for key in ("linformer_k", "kv_heads"):
        if key in c:
            out[key] = _int("candidates", key, c[key])
    return out


def _budget_section(b: dict[str, Any], objective: str, cost: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "device" in b:
        try:
            get_device(b["device"])
        except AttncostError as e:
            raise SpecError(f"[budget] device: {e}") from None
        out["device"] = b["device"]
    out["mode"] = _one_of("budget", "mode", b.get("mode", "train"), MODES)
    if "memory" in b:
        try:
            out["memory_bytes"] = parse_bytes(b["memory"])
        except (AttncostError, ValueError, TypeError):
            raise _err("budget", "memory", b["memory"],
                       "bytes as an integer or a size like \"512MB\" or \"8GiB\"") from None
    if "latency_ms" in b:
        out["latency_ms"] = _float("budget", "latency_ms", b["latency_ms"], 1e-9)
        if "device" not in b:
            raise SpecError("[budget] latency_ms needs [budget] device (latency is the "
                            "device's roofline)")
    if "headroom" in b:
        out["headroom"] = _float("budget", "headroom", b["headroom"], 0.0, 0.99)
    if (objective == "latency" or cost == "latency" and objective == "multi") and \
            "device" not in b:
        raise SpecError("a latency objective needs [budget] device (latency is the device's "
                        "roofline)")
    return out


def _training_section(tr: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, dst in (("steps", "steps"), ("batch", "train_batch"), ("seeds", "seeds"),
                     ("eval_every", "eval_every")):
        if key in tr:
            out[dst] = _int("training", key, tr[key])
    if "lr" in tr:
        out["lr"] = _float("training", "lr", tr["lr"], 1e-7, 1.0)
    return out


def parse_spec(data: dict[str, Any], source: str = "<spec>") -> SearchSpec:
    """Validate a spec's parsed TOML (a dict of sections) into a :class:`SearchSpec`."""
    _check_sections(data)
    out: dict[str, Any] = {"source": source, **_search_section(data.get("search", {}), source)}
    out.update(_model_section(data.get("model", {})))
    out.update(_candidates_section(data.get("candidates", {}), out["layers"]))
    t = data.get("target", {})
    if "accuracy" in t:
        out["target_accuracy"] = _float("target", "accuracy", t["accuracy"], 0.0, 1.0)
    elif out["objective"] != "multi":
        raise SpecError("[target] accuracy is required for a single-objective search "
                        "(the accuracy every answer must reach, 0–1)")
    out.update(_budget_section(data.get("budget", {}), out["objective"], out["cost"]))
    out.update(_training_section(data.get("training", {})))
    try:
        out["task_options"] = get_task(out["task"]).resolve(data.get("task", {}))
    except AttncostError as e:
        raise SpecError(str(e)) from None
    spec = SearchSpec(**out)
    _check_buildable(spec)
    return spec


def _check_buildable(spec: SearchSpec) -> None:
    """Build every candidate variant once on the spec's skeleton, so a bad dimension is
    reported now, naming the spec, rather than as a failed trial later."""
    try:
        spec.attention(options=False)
    except AttncostError as e:
        raise SpecError(f"[model] {e}") from None
    try:
        attn = spec.attention()
    except AttncostError as e:
        raise SpecError(f"[candidates] {e}") from None
    from ..nn import has_module

    for variant in sorted({v for layer in spec.choices for v in layer}):
        if not has_module(variant):
            raise SpecError(f"[candidates] {variant} has no PyTorch module to train; register "
                            f"one with @attncost.nn.register_module({variant!r})")
        try:
            model_graph(spec.model((variant,), attn))
        except AttncostError as e:
            raise SpecError(f"[candidates] {variant} cannot be built on this [model]: {e}") \
                from None


def load_spec(path: str | Path, plugins: tuple[str, ...] = (), **overrides: Any) -> SearchSpec:
    """Read a spec file; ``overrides`` (``trials=5``, ``storage=…``) replace its fields.
    ``plugins``: Python files already loaded here (variants, tasks) that worker processes
    must load too."""
    from dataclasses import replace

    spec = parse_spec(read_toml(path, "search spec", SpecError), str(path))
    spec = apply_overrides(spec, **overrides)
    return replace(spec, plugins=tuple(str(Path(p).resolve()) for p in plugins))


def apply_overrides(spec: SearchSpec, **overrides: Any) -> SearchSpec:
    """Command-line flags over spec fields, validated as the spec's own fields would be."""
    given = {k: v for k, v in overrides.items() if v is not None}
    if not given:
        return spec
    data = _to_sections(spec)
    where = {k: sec for sec, keys in _SECTIONS.items() for k in keys}
    where.update({"target_accuracy": "target", "train_batch": "training"})
    rename = {"target_accuracy": "accuracy", "train_batch": "batch", "memory_bytes": "memory"}
    for key, value in given.items():
        section = "budget" if key == "memory_bytes" else where.get(key)
        if section is None:
            raise SpecError(f"cannot override {key!r} from the command line")
        data.setdefault(section, {})[rename.get(key, key)] = value
    return parse_spec(data, spec.source)


def _to_sections(spec: SearchSpec) -> dict[str, Any]:
    d = spec.as_dict()
    data: dict[str, Any] = {
        "search": {k: d[k] for k in ("name", "task", "objective", "cost", "trials", "sampler",
                                     "seed", "workers", "description", "confidence")},
        "model": {k: d[k] for k in ("layers", "d_model", "heads", "ffn_mult", "batch",
                                    "dtype")},
        "candidates": {"variants": list(spec.choices[0])},
        "budget": {"mode": spec.mode, "headroom": spec.headroom},
        "training": {"steps": spec.steps, "batch": spec.train_batch, "lr": spec.lr,
                     "seeds": spec.seeds, "eval_every": spec.eval_every},
        "task": dict(spec.task_options),
    }
    if spec.storage:
        data["search"]["storage"] = spec.storage
    if spec.d_ff:
        data["model"]["d_ff"] = spec.d_ff
    for i, layer in enumerate(spec.choices):
        if layer != spec.choices[0]:
            data["candidates"][f"layer_{i}"] = list(layer)
    for key in ("linformer_k", "kv_heads"):
        if d[key] is not None:
            data["candidates"][key] = d[key]
    if spec.target_accuracy is not None:
        data["target"] = {"accuracy": spec.target_accuracy}
    for key, dst in (("device", "device"), ("memory_bytes", "memory"),
                     ("latency_ms", "latency_ms")):
        if d[key] is not None:
            data["budget"][dst] = d[key]
    return data


__all__ = ["SearchSpec", "SpecError", "load_spec", "parse_spec", "apply_overrides",
           "OBJECTIVES", "COSTS"]
