"""A latency predictor fitted on a device profile: one regressor per kernel kind, summed over
a graph's operations, plus the framework's overhead per operation.

For each kernel kind (:data:`attncost.latency.kernels.KINDS`) and each of its two times
(``fwd``: forward without autograd; ``train``: forward with autograd plus backward), the
predictor fits

* a **baseline** t ≈ c₀ + c₁·work + c₂·aux + Σ cⱼ·extraⱼ, non-negative, least squares on
  relative error (work: the kernel's FLOPs or elements; aux: its bytes for matmuls, the table
  for embeddings; extras: :func:`_extras` — fused attention's score elements, those on its
  scalar tail path, its query rows and its blocks as PyTorch's CPU flash kernel splits them,
  the rows of row-wise kernels, a softmax's elements on its scalar path (rows shorter than a
  vector), and the elements of tensors too large for the allocator's cache, which are fresh
  pages on every call), which carries the time past the profiled sizes linearly, and
* a **residual** regressor (scikit-learn's ``ExtraTreesRegressor`` on the logarithms of the
  features) of log(t / baseline): the shape effects a formula misses (blocking, vector
  widths, thread partitioning, cache sizes), the per-kernel regressor of nn-Meter (Zhang et
  al., MobiSys 2021).

A graph's latency is Σ over its operations of the kernel's predicted time scaled by an
``in_situ`` factor (kernels inside a layer run on operands another kernel just wrote, not on a
timing loop's warm inputs) up to ``in_situ_cap`` (its group's longest reference kernel; past
it, as timed alone), each attention layer's operations × its variant's ``correction`` (what
that variant's reference layers took against the prediction), plus ``overhead_s``: seconds of framework glue per operation of
each kind, per transformer block and per call (module calls, views, reshapes, Python), both
fitted on the profile's reference layers and models (:mod:`attncost.latency.reference`), plus,
for a training step, the backward's launch once (the ``launch`` measurement). A training
step's kernel time is fwd + share·(train − launch − fwd), share the fraction of the
operation's backward that runs (:class:`attncost.latency.kernels.KernelCall`); a
``train_only`` kind (the sum of a tied parameter's gradients) costs its ``timed_as`` kind's
forward in a training step and nothing in inference.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

from ..errors import AttncostError, ConfigError
from .kernels import KINDS, Features, KernelCall, kernel_calls
from .profile import Measurement, Profile, device_label, load_profile

MODES = ("infer", "train")
#: The fewest measurements of a kind its residual regressor is fitted on (below: the
#: baseline alone; a few trees on a handful of noisy points fit the noise).
MIN_RESIDUAL_POINTS = 12


def _log(v: float) -> float:
    return math.log(max(float(v), 0.0) + 1.0)


def _aux(kind: str, f: Features) -> float:
    """The second work term of a kind's baseline: bytes of a matmul's operands and output
    (fp32), an embedding's table; 0 otherwise."""
    if kind == "linear":
        return 4.0 * (f["m"] * f["k"] + f["k"] * f["n"] + f["m"] * f["n"])
    if kind == "bmm":
        return 4.0 * f["batch"] * (f["m"] * f["k"] + f["k"] * f["n"] + f["m"] * f["n"])
    if kind == "sdpa":
        return 4.0 * f["bh"] * (2 * f["q"] + 2 * f["kv"]) * f["d"]
    if kind == "embedding":
        return float(f["table"])
    return 0.0


def _work(kind: str, f: Features) -> float:
    return float(f.get(KINDS[kind].work if kind in KINDS else "numel", f.get("numel", 1)))


#: Floats in one vector register of this build's widest instruction set (AVX-512: 16): fused
#: attention over lengths that are not a multiple of it takes a slower tail path.
VECTOR_FLOATS = 16
#: Bytes above which glibc's malloc maps fresh pages for every allocation (its largest
#: dynamic mmap threshold on 64-bit Linux, 32 MiB): such tensors pay page faults each call.
FRESH_PAGES_BYTES = 32 << 20


def _tail(length: int) -> float:
    """1 when ``length`` is not a multiple of :data:`VECTOR_FLOATS` (a tail path), else 0."""
    return float(length % VECTOR_FLOATS != 0)


def _short(length: int) -> float:
    """1 when ``length`` is below one vector (:data:`VECTOR_FLOATS`: all of it on the scalar
    path), else 0."""
    return float(length < VECTOR_FLOATS)


def _residual_features(kind: str, f: Features) -> list[float]:
    """What a kind's residual trees see beyond the logarithms of its features: fused
    attention's tail flags, its score elements (log) and whether every key is on the tail
    path; a softmax's rows shorter than a vector and rows with a tail."""
    if kind == "sdpa":
        return [_tail(f["kv"]), _tail(f["q"]), math.log(f["bh"] * f["q"] * f["kv"] + 1.0),
                _short(f["kv"])]
    if kind == "softmax":
        return [_short(f["cols"]), _tail(f["cols"])]
    return []


def flash_blocks(f: Features) -> float:
    """Query × key blocks of PyTorch's CPU flash attention (``FlashAttentionKernel.cpp``:
    queries split in blocks of 32, 64 from 192 queries, 256 from 768; keys in blocks of
    512): each costs two GEMM calls and a buffer fill whatever its size."""
    q, kv = f["q"], f["kv"]
    q_split = 256 if q >= 768 else 64 if q >= 192 else 32
    return float(f["bh"] * math.ceil(q / q_split) * math.ceil(kv / 512))


def sdpa_tail_scores(f: Features) -> float:
    """Score elements fused attention handles on its scalar tail path: each query row's last
    ``kv mod`` :data:`VECTOR_FLOATS` keys, all of them when ``kv`` is below one vector."""
    kv = f["kv"]
    per_row = kv if kv < VECTOR_FLOATS else kv % VECTOR_FLOATS
    return float(f["bh"] * f["q"] * per_row)


def _row_count(kind: str, f: Features) -> list[float]:
    """The rows a row-wise kernel works through (a softmax's, a norm's, an embedding's
    gathered rows): each costs a fixed amount on top of its elements, which dominates when
    rows are short (a softmax over 3 columns takes ~25 ns an element, over 300 under 1)."""
    width = {"softmax": "cols", "layernorm": "width", "rmsnorm": "width"}.get(kind)
    if width:
        return [f["numel"] / max(f[width], 1)]
    return [float(f["rows"])] if kind == "embedding" else []


def _extras(kind: str, f: Features) -> list[float]:
    """The kind's extra baseline terms (see the module docstring): fused attention's score
    elements (batch·heads × queries × keys: its softmax work, which dominates at small head
    widths), those on its scalar tail path (:func:`sdpa_tail_scores`), the scores again when
    the query length is not a multiple of :data:`VECTOR_FLOATS`, its query rows (each row's
    max, exp-sum and rescale start again) and its blocks (:func:`flash_blocks`); a row-wise
    kernel's rows (:func:`_row_count`); element-wise kinds' elements (an embedding's table)
    when one fp32 tensor of them exceeds :data:`FRESH_PAGES_BYTES`; a softmax's elements
    when its rows are shorter than one vector (PyTorch's CPU softmax then runs a scalar
    loop: ~20 ns an element on this build's Xeon against ~1 ns from 16 columns)."""
    if kind == "sdpa":
        scores = float(f["bh"] * f["q"] * f["kv"])
        return [scores, sdpa_tail_scores(f), scores * _tail(f["q"]), float(f["bh"] * f["q"]),
                flash_blocks(f)]
    if kind in ("linear", "bmm"):
        return [_past_cache(f.get("batch", 1) * f["m"] * f["n"])]
    big = f["table"] if kind == "embedding" else f.get("numel", 0)
    scalar_path = [f["numel"] * _short(f["cols"])] if kind == "softmax" else []
    return [*_row_count(kind, f), _past_cache(big), *scalar_path]


def _past_cache(elements: float) -> float:
    """``elements`` when one fp32 tensor of them exceeds :data:`FRESH_PAGES_BYTES` (fresh
    pages on every call), else 0."""
    return float(elements) * float(4 * elements > FRESH_PAGES_BYTES)


def baseline_terms(kind: str, f: Features) -> list[float]:
    """[1, work, aux, *extras] of a kind's baseline at features ``f``."""
    return [1.0, _work(kind, f), _aux(kind, f), *_extras(kind, f)]


def _nnls_relative(rows: list[list[float]], times: list[float]) -> list[float]:
    """Non-negative c minimising Σ ((rows·c − t)/t)² (scipy's NNLS on the scaled system)."""
    import numpy as np
    from scipy.optimize import nnls

    a = np.asarray(rows, dtype=float) / np.asarray(times, dtype=float)[:, None]
    scale = np.maximum(np.abs(a).max(axis=0), 1e-300)
    coef, _ = nnls(a / scale, np.ones(len(times)))
    return list(coef / scale)


@dataclass
class KindModel:
    """One kernel kind's fitted time at one thread count, for one of fwd / train."""

    kind: str
    names: list[str]
    baseline: list[float]
    residual: Any = None  # a fitted scikit-learn regressor, or None (baseline only)
    points: int = 0

    def _rows(self, feats: Sequence[Features]) -> tuple[list[list[float]], list[list[float]]]:
        base = [baseline_terms(self.kind, f) for f in feats]
        logs = [[_log(f.get(n, 0)) for n in self.names] + [_log(_work(self.kind, f))]
                + _residual_features(self.kind, f) for f in feats]
        return base, logs

    def predict(self, feats: Sequence[Features]) -> list[float]:
        """Seconds for each of ``feats``."""
        import numpy as np

        if not feats:
            return []
        base, logs = self._rows(feats)
        b = np.asarray(base) @ np.asarray(self.baseline)
        if self.residual is not None:
            b = b * np.exp(self.residual.predict(np.asarray(logs)))
        return [float(max(v, 0.0)) for v in b]


def fit_kind(kind: str, feats: list[Features], times: list[float],
             residual: bool = True, seed: int = 0) -> KindModel:
    """:class:`KindModel` of ``kind`` from measured ``times`` at ``feats``."""
    import numpy as np

    names = sorted({n for f in feats for n in f if n != "flops"})
    model = KindModel(kind, names, [], points=len(times))
    base, logs = model._rows(feats)
    model.baseline = _nnls_relative(base, times)
    if residual and len(times) >= MIN_RESIDUAL_POINTS:
        from sklearn.ensemble import ExtraTreesRegressor

        pred = np.asarray(base) @ np.asarray(model.baseline)
        target = np.log(np.asarray(times) / np.maximum(pred, 1e-12))
        model.residual = ExtraTreesRegressor(n_estimators=200, min_samples_leaf=2,
                                             random_state=seed).fit(np.asarray(logs), target)
    return model


@dataclass
class Predictor:
    """Per-kind models at each profiled thread count, the backward launch, the in-situ factor
    and the overhead per term (:func:`attncost.latency.reference.overhead_counts`) per
    (threads, mode). Build one with :meth:`fit`."""

    models: dict[tuple[str, int, str], KindModel] = field(default_factory=dict)
    launch_s: dict[int, float] = field(default_factory=dict)
    overhead_s: dict[tuple[int, str], dict[str, float]] = field(default_factory=dict)
    in_situ: dict[tuple[int, str], dict[str, float]] = field(default_factory=dict)
    #: Root-mean-square relative error on the references, each variant or model predicted
    #: by a fit without it (how well the overheads and factors generalise; None: not fitted).
    reference_cv_error: dict[tuple[int, str], float | None] = field(default_factory=dict)
    threads: list[int] = field(default_factory=list)
    source: str = ""
    profile: Profile | None = None
    excluded: tuple[str, ...] = ()
    #: A factor per attention variant (:func:`attncost.latency.reference.correction_group`)
    #: per (threads, mode) on the predicted time of that variant's layers: what its
    #: reference layers took against the prediction (:func:`~attncost.latency.reference.
    #: fit_corrections`); a variant without one: 1.
    correction: dict[tuple[int, str], dict[str, float]] = field(default_factory=dict)
    #: Per in-situ group, the longest kernel time (beyond its fixed part) among the
    #: reference layers' and models' kernels: the in-situ factor scales a kernel's time up
    #: to that and no further (a vocabulary head 100× the references' largest matmul runs
    #: on streamed operands as it does alone).
    in_situ_cap: dict[tuple[int, str], dict[str, float]] = field(default_factory=dict)

    @classmethod
    def fit(cls, prof: Profile | str | Any, *, residual: bool = True,
            exclude: Sequence[str] = ()) -> "Predictor":
        """Fit every kernel kind of ``prof`` (a :class:`Profile` or a path) at each thread
        count it holds; ``exclude``: kinds left out (their operations then predict 0)."""
        prof = load_profile(prof)
        _check_fitting_libraries()
        out = cls(threads=list(prof.threads),
                  source=f"{device_label(prof)}, torch {prof.torch}, "
                         f"{prof.date}", profile=prof, excluded=tuple(exclude))
        groups: dict[tuple[str, int], list[Measurement]] = {}
        for m in prof.measurements:
            groups.setdefault((m.kind, m.threads), []).append(m)
        for (kind, t), ms in groups.items():
            if kind == "launch":
                out.launch_s[t] = min(max(m.train_s - m.fwd_s, 0.0) for m in ms)
            elif kind in KINDS and kind not in exclude:
                feats = [m.features for m in ms]
                out.models[(kind, t, "fwd")] = fit_kind(kind, feats, [m.fwd_s for m in ms],
                                                        residual)
                out.models[(kind, t, "train")] = fit_kind(kind, feats,
                                                          [m.train_s for m in ms], residual)
        if not out.models:
            raise ConfigError("the profile holds no kernel measurements to fit; run "
                              "`attncost profile -o FILE`")
        from .reference import fit_corrections, fit_overheads

        fit_overheads(out, prof)
        fit_corrections(out, prof)
        return out

    # -- prediction --------------------------------------------------------------------

    def pick_threads(self, threads: int | None) -> int:
        """``threads`` (it must be profiled), or the profile's first thread count."""
        from .profile import check_profiled

        return self.threads[0] if threads is None else check_profiled(self.threads,
                                                                      [threads])[0]

    @staticmethod
    def _timed_by(calls: list[KernelCall], mode: str) -> dict[str, list[int]]:
        """Indices of ``calls`` by the kind whose timings give their time (none for kinds
        timed with another's, nor, in inference, for train-only work)."""
        out: dict[str, list[int]] = {}
        for i, c in enumerate(calls):
            k = KINDS[c.kind]
            if not k.included and (mode == "train" or not k.train_only):
                out.setdefault(k.timed_as or c.kind, []).append(i)
        return out

    @staticmethod
    def _step(call: KernelCall, fwd: float, train: float, launch: float, mode: str) -> float:
        """A call's seconds from its kind's forward and forward + backward seconds: fwd, plus
        in training the share of the backward that runs (train − launch − fwd) — none for
        train-only work, which is the kind's forward."""
        if mode != "train" or KINDS[call.kind].train_only:
            return fwd
        return fwd + call.backward * max(train - launch - fwd, 0.0)

    def call_times(self, calls: list[KernelCall], mode: str, threads: int | None = None
                   ) -> list[float]:
        """Seconds of each kernel call (no dispatch, no launch)."""
        check_mode(mode)
        t = self.pick_threads(threads)
        launch = self.launch_s.get(t, 0.0)
        out = [0.0] * len(calls)
        for kind, idx in self._timed_by(calls, mode).items():
            fwd_m = self.models.get((kind, t, "fwd"))
            if fwd_m is None:
                if kind in self.excluded:
                    continue
                raise ConfigError(f"the profile has no {kind!r} kernels at {t} thread(s) "
                                  f"(operation {calls[idx[0]].op!r} runs as one); run "
                                  f"`attncost profile -o FILE` to completion")
            feats = [calls[i].features for i in idx]
            fwd = fwd_m.predict(feats)
            train = self.models[(kind, t, "train")].predict(feats) if mode == "train" else fwd
            for j, i in enumerate(idx):
                out[i] = self._step(calls[i], fwd[j], train[j], launch, mode)
        return out

    def call_intercepts(self, calls: list[KernelCall], mode: str, threads: int | None = None
                        ) -> list[float]:
        """The fixed part of each kernel call's time (its kind's baseline intercepts: the
        call's own dispatch as timed alone), which the in-situ factor does not scale."""
        t = self.pick_threads(threads)
        launch = self.launch_s.get(t, 0.0)
        out = [0.0] * len(calls)
        for kind, idx in self._timed_by(calls, mode).items():
            if (kind, t, "fwd") not in self.models:
                continue
            c0 = self.models[(kind, t, "fwd")].baseline[0]
            c0_train = self.models[(kind, t, "train")].baseline[0]
            for i in idx:
                out[i] = self._step(calls[i], c0, c0_train, launch, mode)
        return out

    def call_seconds(self, calls: list[KernelCall], mode: str, threads: int | None = None
                     ) -> list[float]:
        """Each call's share of a graph's seconds: its fixed part + the rest of its kernel
        time × its group's in-situ factor + its kind's overhead per operation (none for
        train-only work, which runs inside the autograd engine)."""
        from .reference import OP, in_situ_group

        t = self.pick_threads(threads)
        factor = self.in_situ.get((t, mode), {})
        per_op = self.overhead_s.get((t, mode), {})
        fixed = self.call_intercepts(calls, mode, t)
        cap = self.in_situ_cap.get((t, mode), {})
        out = []
        for c, x, f in zip(calls, self.call_times(calls, mode, t), fixed):
            group, scaled = in_situ_group(c.kind), max(x - f, 0.0)
            in_layer = f + scaled + (factor.get(group, 1.0) - 1.0) * min(scaled, cap.get(
                group, math.inf))
            out.append(in_layer + (0.0 if KINDS[c.kind].train_only
                                   else per_op.get(c.kind, per_op.get(OP, 0.0))))
        return out

    def graph_seconds(self, calls: list[KernelCall], mode: str, threads: int | None = None
                      ) -> float:
        """Seconds of a graph outside its calls: the overhead per call of the graph and per
        transformer block, and in training the backward's launch."""
        from .reference import overhead_counts, overhead_seconds

        t = self.pick_threads(threads)
        counts = overhead_counts(calls)
        per_term = self.overhead_s.get((t, mode), {})
        glue = {k: n for k, n in counts.items() if k not in KINDS}
        total = overhead_seconds(Counter(glue), per_term)
        return total + (self.launch_s.get(t, 0.0) if mode == "train" else 0.0)

    def predict_calls(self, calls: list[KernelCall], mode: str, threads: int | None = None,
                      attention: Sequence[tuple[str, str]] = ()) -> float:
        """Seconds of a graph given as kernel calls (and its ``attention`` layers:
        :attr:`attncost.ops.Graph.attention_layers`): Σ :meth:`call_seconds`, those of each
        attention layer × its variant's :attr:`correction`, + :meth:`graph_seconds`."""
        from .reference import correction_group

        t = self.pick_threads(threads)
        seconds = self.call_seconds(calls, mode, t)
        factors = self.correction.get((t, mode), {})
        scaled = [(p, factors[correction_group(key)]) for p, key in attention
                  if correction_group(key) in factors]
        total = 0.0
        for c, s in zip(calls, seconds):
            total += s * next((f for p, f in scaled if c.op.startswith(p)), 1.0)
        return total + self.graph_seconds(calls, mode, t)

    def predict(self, target: Any, mode: str = "infer", *, threads: int | None = None) -> float:
        """Predicted seconds of a forward (``infer``) or forward + backward (``train``) of
        ``target``: a graph, an :class:`~attncost.api.Estimate`, a
        :class:`~attncost.config.ModelConfig`, or a (variant, AttentionConfig) pair."""
        graph = graph_of(target)
        return self.predict_calls(kernel_calls(graph), mode, threads, graph.attention_layers)


def profiled_device(prof: Any, threads: int) -> Any:
    """A roofline device from a profile: peak = the fastest matmul timed (FLOP/s), bandwidth
    = the fastest element-wise op (bytes read and written per second), fp32."""
    from ..devices import Device

    ms = prof.for_threads(threads)
    peak = max(m.features["flops"] / m.fwd_s for m in ms
               if m.kind in ("linear", "bmm") and m.fwd_s > 0)
    bw = max((12 if m.kind == "binary" else 8) * m.features["numel"] / m.fwd_s for m in ms
             if m.kind in ("binary", "copy") and m.fwd_s > 0)
    return Device(name=f"profiled-cpu-{threads}t", title=f"this CPU, {threads} thread(s)",
                  memory_bytes=1 << 40, bandwidth=bw, peak_flops={"fp32": peak},
                  source="attncost profile", derived="peak and bandwidth: the profile's "
                  "fastest matmul and element-wise op")


def _check_fitting_libraries() -> None:
    """One line, not a traceback, where scikit-learn (and its scipy) is missing."""
    import importlib.util

    for lib in ("scipy", "sklearn"):
        if importlib.util.find_spec(lib) is None:
            raise ConfigError("fitting a latency predictor on a profile needs scikit-learn: "
                              "pip install -c constraints.txt -e '.[search]'")


def check_mode(mode: Any) -> str:
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}; allowed: {', '.join(MODES)}")
    return mode


def graph_of(target: Any) -> Any:
    """The cost-model graph of a prediction target (see :meth:`Predictor.predict`)."""
    from ..config import AttentionConfig, ModelConfig
    from ..graphs import layer_graph, model_graph
    from ..ops import Graph

    if isinstance(target, Graph):
        return target
    if isinstance(target, ModelConfig):
        return model_graph(target)
    if isinstance(target, tuple) and len(target) == 2 and isinstance(target[1], AttentionConfig):
        return layer_graph(target[0], target[1])
    graph = getattr(target, "graph", None)
    if isinstance(graph, Graph):
        return graph
    raise AttncostError(f"cannot predict the latency of {type(target).__name__}; give a Graph, "
                        f"an Estimate, a ModelConfig or a (variant, AttentionConfig) pair")


def predictor_for(profile: Any) -> Predictor:
    """A :class:`Predictor` from itself, a :class:`Profile` or a profile file (fitted once
    per file: cached in the process by path and modification time, and on disk —
    :func:`cache_file` — across processes)."""
    if isinstance(profile, Predictor):
        return profile
    if isinstance(profile, Profile):
        return Predictor.fit(profile)
    from pathlib import Path

    if not isinstance(profile, (str, Path)):
        raise ConfigError(f"profile {profile!r} must be a profile file, a Profile or a "
                          f"Predictor")
    p = Path(profile)
    key = (str(p.resolve()), p.stat().st_mtime if p.exists() else 0.0)
    if key not in _FITTED:
        _FITTED[key] = _load_or_fit(p)
    return _FITTED[key]


def cache_file(path: Any) -> Any:
    """Where the predictor fitted on profile file ``path`` is kept between processes:
    ``$XDG_CACHE_HOME/attncost/predictors/<hash>.pkl`` (``~/.cache`` by default), the hash
    of the profile's bytes, scikit-learn's version and the predictor's own source (an edit
    to the fitting code never reads an old fit); None when ``ATTNCOST_NO_CACHE`` is set or
    the file cannot be read."""
    import hashlib
    import os
    from pathlib import Path

    if os.environ.get("ATTNCOST_NO_CACHE"):
        return None
    try:
        import sklearn

        h = hashlib.sha256(Path(path).read_bytes())
        h.update(sklearn.__version__.encode())
        for module in ("predictor", "reference", "kernels"):
            h.update((Path(__file__).parent / f"{module}.py").read_bytes())
    except (OSError, ImportError):
        return None
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "attncost" / "predictors" / f"{h.hexdigest()[:32]}.pkl"


def _load_or_fit(path: Any) -> Predictor:
    """The cached fit of profile file ``path`` (:func:`cache_file`), or a new fit (then
    cached; a cache that cannot be read or written is refitted or skipped, silently)."""
    import pickle

    cached = cache_file(path)
    if cached is not None and cached.exists():
        try:
            with cached.open("rb") as fh:
                pred = pickle.load(fh)
            if isinstance(pred, Predictor):
                return pred
        except Exception:  # noqa: BLE001 — a damaged or foreign cache: fit again
            pass
    pred = Predictor.fit(path)
    if cached is not None:
        from ..files import write_atomic

        try:
            write_atomic(cached, pickle.dumps(pred, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:
            pass
    return pred


_FITTED: dict[tuple[str, float], Predictor] = {}


def predict(target: Any, mode: str = "infer", *, profile: Any,
            threads: int | None = None) -> float:
    """Predicted seconds of ``target`` (see :meth:`Predictor.predict`) from ``profile`` (a
    profile file, a :class:`Profile` or a fitted :class:`Predictor`)."""
    return predictor_for(profile).predict(target, mode, threads=threads)
