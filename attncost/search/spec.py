"""A search specification: one TOML file in ``search/`` per real question.

Sections (every field optional unless marked; see ``search/*.toml`` for worked examples)::

    [search]     name, task (required: a registered task — digits, mqar, sequences, listops,
                 induction, a user's — or "package.module:object"), objective
                 (params | flops | memory | latency | multi), cost (the cost a multi-objective
                 search trades against accuracy: params | flops | memory | latency), trials
                 (the evaluation budget: training runs, re-tests included, study-wide),
                 sampler (a name of attncost.search.samplers.SAMPLERS), seed, storage,
                 workers, confidence (that the answer meets the target; default 0.95)
    [model]      layers (required), d_model, heads, d_ff or ffn_mult, batch (the batch the
                 budget is checked at), dtype
    [candidates] variants (required: one list for every layer), layer_<i> (a list for layer
                 i), linformer_k, kv_heads
    [target]     accuracy, or the task's metric by name (f1, loss: required for
                 single-objective searches; a loss target is the most loss allowed)
    [budget]     device, mode (train | infer), memory (bytes or "8GB"), latency_ms, headroom,
                 latency_source (roofline | profile | measured: what latency_ms and a latency
                 objective read — the device's roofline, the kernel-level predictor of a device
                 profile, or each candidate timed here), runtime (torch | onnxruntime: where
                 measured latency is timed; onnxruntime for inference budgets), profile (a
                 file from `attncost profile`), threads (of the profile, or to time with)
    [training]   steps, batch, lr, seeds (runs every architecture not ruled out gets; the
                 loop re-tests near the target with fresh seeds), eval_every, device (cpu |
                 cuda | cuda:<i>), precision (auto | fp32 | bf16 | fp16; auto: fp32 on the
                 CPU, bf16 or fp16 mixed precision on a GPU)
    [task]       the task's own options (its declared schema; e.g. digits: patch_size;
                 sequences: path, input, column, label, seq_len …)

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
from ..torch_device import DeviceError
from ..units import parse_bytes
from ..variants import names as variant_names
from .samplers import SAMPLERS
from .tasks import get_metric, get_task, is_reference, task_names
from .tasks.device import check_device_name, resolve_device

OBJECTIVES = ("params", "flops", "memory", "latency", "multi")
COSTS = ("params", "flops", "memory", "latency")
MODES = ("train", "infer")

_SECTIONS: dict[str, tuple[str, ...]] = {
    "search": ("name", "task", "objective", "cost", "trials", "sampler", "seed", "storage",
               "workers", "description", "confidence"),
    "model": ("layers", "d_model", "heads", "d_ff", "ffn_mult", "batch", "dtype"),
    "candidates": ("variants", "linformer_k", "kv_heads"),
    "target": ("accuracy",),  # or the task's metric by name (f1, loss)
    "budget": ("device", "mode", "memory", "latency_ms", "headroom", "latency_source",
               "runtime", "profile", "threads"),
    "training": ("steps", "batch", "lr", "seeds", "eval_every", "device", "precision"),
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
    latency_source: str = "roofline"
    latency_profile: str | None = None
    latency_threads: int | None = None
    latency_runtime: str = "torch"
    confidence: float = 0.95
    steps: int = 300
    train_batch: int = 64
    lr: float = 3e-3
    seeds: int = 1
    eval_every: int = 50
    task_options: dict[str, Any] = field(default_factory=dict)
    train_device: str = "cpu"
    precision: str = "auto"
    metric: str = "accuracy"  # the task's metric; target_accuracy is its score (0–1)
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
        """Every field; the fields added by issue 11 only where they differ from their
        defaults, so a spec that does not use them keeps its study (the study's name hashes
        this dict)."""
        out = asdict(self)
        out["choices"] = [list(c) for c in self.choices]
        for key, default in _LATER_DEFAULTS.items():
            if out[key] == default:
                del out[key]
        return out

    @property
    def target_value(self) -> float | None:
        """The target in the task metric's own units (a loss target is a loss)."""
        if self.target_accuracy is None:
            return None
        return get_metric(self.metric).from_score(self.target_accuracy)


#: Fields added after studies were first stored, with their defaults (see ``as_dict``).
_LATER_DEFAULTS = {"train_device": "cpu", "precision": "auto", "metric": "accuracy",
                   "latency_source": "roofline", "latency_profile": None,
                   "latency_threads": None, "latency_runtime": "torch"}
#: Where a search's latency comes from (``[budget] latency_source``).
LATENCY_SOURCES = ("roofline", "profile", "measured")


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
            if key not in _SECTIONS[section] and section not in ("task", "target") and not (
                    section == "candidates" and key.startswith("layer_")):
                raise SpecError(f"unknown field [{section}] {key}; allowed: "
                                f"{', '.join(_SECTIONS[section])}"
                                f"{', layer_<i>' if section == 'candidates' else ''}")


def _task(value: Any) -> str:
    """A registered task name or a ``package.module:object`` reference that loads a task."""
    allowed = f"allowed: {', '.join(task_names())}, or \"package.module:object\""
    if not isinstance(value, str) or not (value in task_names() or is_reference(value)):
        raise _err("search", "task", value, allowed)
    try:
        get_task(value)
    except AttncostError as e:
        raise _err("search", "task", value, str(e)) from None
    return value


def _search_section(s: dict[str, Any], source: str) -> dict[str, Any]:
    if "task" not in s:
        raise SpecError(f"[search] task is required; allowed: {', '.join(task_names())}, or "
                        f"\"package.module:object\"")
    out: dict[str, Any] = {"task": _task(s["task"])}
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
    out.update(_latency_source(b))
    roofline = out.get("latency_source", "roofline") == "roofline"
    if "latency_ms" in b:
        out["latency_ms"] = _float("budget", "latency_ms", b["latency_ms"], 1e-9)
        if "device" not in b and roofline:
            raise SpecError("[budget] latency_ms needs [budget] device (latency is the "
                            "device's roofline) or latency_source = \"profile\" or "
                            "\"measured\"")
    if "headroom" in b:
        out["headroom"] = _float("budget", "headroom", b["headroom"], 0.0, 0.99)
    if (objective == "latency" or cost == "latency" and objective == "multi") and \
            "device" not in b and roofline:
        raise SpecError("a latency objective needs [budget] device (latency is the device's "
                        "roofline) or latency_source = \"profile\" or \"measured\"")
    return out


def _latency_source(b: dict[str, Any]) -> dict[str, Any]:
    """``[budget] latency_source``, ``profile`` and ``threads``: a profile must be readable
    and hold the thread count; measured latency needs torch."""
    out: dict[str, Any] = {}
    source = _one_of("budget", "latency_source", b.get("latency_source", "roofline"),
                     LATENCY_SOURCES)
    if source != "roofline":
        out["latency_source"] = source
    if "threads" in b:
        out["latency_threads"] = _int("budget", "threads", b["threads"])
        if source == "roofline":
            raise SpecError("[budget] threads applies to latency_source = \"profile\" or "
                            "\"measured\"")
    if "profile" in b and source != "profile":
        raise SpecError("[budget] profile needs latency_source = \"profile\"")
    if source == "profile":
        if not isinstance(b.get("profile"), str) or not b["profile"]:
            raise SpecError("[budget] latency_source = \"profile\" needs [budget] profile, "
                            "a file from `attncost profile -o FILE`")
        from ..latency.profile import load_profile

        try:
            prof = load_profile(b["profile"])
        except AttncostError as e:
            raise SpecError(f"[budget] profile: {e}") from None
        if out.get("latency_threads") not in (None, *prof.threads):
            raise SpecError(f"[budget] threads = {out['latency_threads']} was not profiled; "
                            f"the profile has {', '.join(map(str, prof.threads))}")
        out["latency_profile"] = str(Path(b["profile"]).resolve())
    if source == "measured":
        import importlib.util

        if importlib.util.find_spec("torch") is None:
            raise SpecError("[budget] latency_source = \"measured\" times each candidate "
                            "in torch, which is not installed")
    if "runtime" in b:
        out.update(_runtime(b["runtime"], source, b.get("mode", "train")))
    return out


def _runtime(runtime: Any, source: str, mode: str) -> dict[str, Any]:
    """``[budget] runtime``: where measured latency is taken (torch eager, or ONNX Runtime
    for an inference budget, installed)."""
    from ..latency.onnx import RUNTIMES, check_runtime

    if source != "measured":
        raise SpecError("[budget] runtime applies to latency_source = \"measured\"")
    runtime = _one_of("budget", "runtime", runtime, RUNTIMES)
    try:
        check_runtime(runtime, "train" if mode == "train" else "infer")
    except AttncostError as e:
        raise SpecError(f"[budget] runtime: {e}") from None
    return {"latency_runtime": runtime} if runtime != "torch" else {}


def _training_section(tr: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, dst in (("steps", "steps"), ("batch", "train_batch"), ("seeds", "seeds"),
                     ("eval_every", "eval_every")):
        if key in tr:
            out[dst] = _int("training", key, tr[key])
    if "lr" in tr:
        out["lr"] = _float("training", "lr", tr["lr"], 1e-7, 1.0)
    out.update(_device(tr.get("device", "cpu"), tr.get("precision", "auto")))
    return out


def _device(device: Any, precision: Any) -> dict[str, Any]:
    """``[training] device`` and ``precision``, checked here: a CUDA device must exist on
    this machine (torch is imported only to check one)."""
    try:
        check_device_name(device)
    except DeviceError:
        raise _err("training", "device", device, "allowed: cpu, cuda, cuda:<index>") from None
    if precision not in ("auto", "fp32", "bf16", "fp16"):
        raise _err("training", "precision", precision, "allowed: auto, fp32, bf16, fp16")
    if device != "cpu" or precision != "auto":
        try:
            resolve_device(device, precision)
        except DeviceError as e:
            key = "precision" if str(e).startswith("precision") else "device"
            raise _err("training", key, device if key == "device" else precision,
                       str(e).split(": ", 1)[-1]) from None
    return {"train_device": device, "precision": precision}


def _target(t: dict[str, Any], task: str, objective: str,
            opts: dict[str, Any]) -> dict[str, Any]:
    """``[target] accuracy`` or ``[target] <the task's metric>``: the search's target as a
    score in [0, 1] (a loss target L is the score exp(−L))."""
    metric = get_metric(get_task(task).metric_of(opts))
    out: dict[str, Any] = {"metric": metric.name}
    keys = [k for k in t if k != "accuracy" or metric.name == "accuracy"]
    if "accuracy" in t and metric.name != "accuracy":
        raise SpecError(f"[target] accuracy: task {task!r} is scored by {metric.name} "
                        f"({metric.label}); write [target] {metric.name} = …")
    for key in keys:
        if key != metric.name:
            raise SpecError(f"unknown field [target] {key}; task {task!r} is scored by "
                            f"{metric.name}: allowed: {metric.name}")
    if not keys:
        if objective != "multi":
            raise SpecError(f"[target] {metric.name} is required for a single-objective "
                            f"search (the {metric.label} every answer must reach"
                            f"{', 0–1' if metric.higher_is_better else ', at most'})")
        return out
    value = t[keys[0]]
    if metric.higher_is_better:
        out["target_accuracy"] = _float("target", metric.name, value, 0.0, 1.0)
    else:
        out["target_accuracy"] = metric.to_score(_float("target", metric.name, value, 0.0))
    return out


def parse_spec(data: dict[str, Any], source: str = "<spec>") -> SearchSpec:
    """Validate a spec's parsed TOML (a dict of sections) into a :class:`SearchSpec`."""
    _check_sections(data)
    out: dict[str, Any] = {"source": source, **_search_section(data.get("search", {}), source)}
    out.update(_model_section(data.get("model", {})))
    out.update(_candidates_section(data.get("candidates", {}), out["layers"]))
    out.update(_budget_section(data.get("budget", {}), out["objective"], out["cost"]))
    out.update(_training_section(data.get("training", {})))
    base_dir = Path(source).parent if source != "<spec>" else None
    try:
        out["task_options"] = get_task(out["task"]).resolve(data.get("task", {}), base_dir)
    except AttncostError as e:
        raise SpecError(str(e)) from None
    out.update(_target(data.get("target", {}), out["task"], out["objective"],
                       out["task_options"]))
    spec = SearchSpec(**out)
    _check_buildable(spec)
    _check_measured_latency(spec)
    return spec


def _check_measured_latency(spec: SearchSpec) -> None:
    """Measured latency is not additive over layers (timing noise, caches): a sampler that
    plans with per-layer costs cannot minimise it."""
    from .samplers import NEEDS_SPACE

    if spec.latency_source == "measured" and spec.cost_metric == "latency" and \
            spec.sampler in NEEDS_SPACE and not spec.multi:
        raise SpecError(f"[search] sampler = {spec.sampler!r} plans with per-layer costs, "
                        f"which measured latency does not have; use sampler = \"tpe\" or "
                        f"[budget] latency_source = \"profile\"")


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
    where.update({"target_accuracy": "target", "train_batch": "training", "device": "budget",
                  "train_device": "training", "precision": "training"})
    rename = {"target_accuracy": spec.metric, "train_batch": "batch", "memory_bytes": "memory",
              "train_device": "device"}
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
                     "seeds": spec.seeds, "eval_every": spec.eval_every,
                     "device": spec.train_device, "precision": spec.precision},
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
        data["target"] = {spec.metric: spec.target_value}
    if spec.latency_source != "roofline":
        data["budget"]["latency_source"] = spec.latency_source
    for key, dst in (("device", "device"), ("memory_bytes", "memory"),
                     ("latency_ms", "latency_ms"), ("latency_profile", "profile"),
                     ("latency_threads", "threads")):
        if d.get(key) is not None:
            data["budget"][dst] = d[key]
    return data


__all__ = ["SearchSpec", "SpecError", "load_spec", "parse_spec", "apply_overrides",
           "OBJECTIVES", "COSTS"]
