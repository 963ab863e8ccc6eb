"""Synthetic *true-accuracy* landscapes for per-layer attention-variant search: the black boxes
of ``attncost search-bench`` (:mod:`attncost.search.benchmark`).

Written by a separate author who never saw attncost's searcher, to hold it to forms it does
not assume; instances 0–1 of each family were used to choose the searcher's settings, the
report uses 2–6.

An architecture is a tuple of ``layers`` variant indices into ``VARIANTS``.  Its
cost (roofline latency of one training step) and parameter count are additive
per layer and known exactly; its accuracy is a black box.  This module supplies
several *families* of plausible accuracy functions, each a different
mathematical form, with a random instance per ``seed``.  Every family is
calibrated (see ``check.py``) so that at 12 layers and target 0.90

* the all-standard stack is feasible with a margin,
* the cheapest feasible in-budget architecture is a *mixed* stack that is at
  least 40 % cheaper than all-standard,
* only a small fraction of random in-budget stacks is feasible, and a sizeable
  fraction sits just below the target (0.85-0.90), which is what makes a search
  with noisy evaluations hard.

Difficulty calibration: most families draw a target fraction p in
[0.05, 0.12] per instance and bisect one scalar difficulty knob (effect scale,
stage demand, capacity requirement, task thresholds) so that about p of a
fixed sample of random in-budget stacks is feasible; lookup-critical instead
fixes the accuracy of the "lookup layers only" stack.  Calibration depends only
on (family, layers, seed), so instances are deterministic.

Exact ground truth: :func:`attncost.search.benchmark.exact_optimum` (count-vector
enumeration, works for 12 layers), checked against brute force in the tests.

Pure numpy; ``Landscape.true_accuracy`` is vectorised over rows.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

import numpy as np

VARIANTS = ("standard", "mqa", "efficient", "linformer", "linear", "kernel-linear")
STD, MQA, EFF, LF, LIN, KER = range(6)
NV = len(VARIANTS)
EXACT = (STD, MQA, EFF)          # exact softmax attention: can do a precise lookup
LINEARISH = (LIN, KER)           # recurrent / kernelised: fixed-size state
CHANCE = 0.1
TARGET = 0.90

# --- cost model (seconds per training step, additive per layer): the figures the cost model
# gives for the benchmark's skeleton at 2,048 tokens (a test checks they still are) ----------
COST_BASE = 0.0056434597647058715
COST_PER_LAYER = np.array([
    0.06888501609411765,   # standard
    0.06787489430588234,   # mqa
    0.06738000112941175,   # efficient
    0.030331343811764708,  # linformer
    0.01243943755294117,   # linear
    0.013559482729411758,  # kernel-linear
])
# --- parameter model (additive per layer) ------------------------------------
PARAM_BASE = 390400
PARAM_PER_LAYER = np.array([197760, 173184, 164992, 2294912, 197760, 197760])


def param_budget(layers: int) -> float:
    """Parameter budget: base + 1.5 x layers x (standard layer)."""
    return PARAM_BASE + 1.5 * layers * PARAM_PER_LAYER[STD]


def arch_cost(archs) -> np.ndarray:
    a = np.atleast_2d(np.asarray(archs))
    return COST_BASE + COST_PER_LAYER[a].sum(axis=1)


def arch_params(archs) -> np.ndarray:
    a = np.atleast_2d(np.asarray(archs))
    return PARAM_BASE + PARAM_PER_LAYER[a].sum(axis=1)


def in_budget(archs) -> np.ndarray:
    a = np.atleast_2d(np.asarray(archs))
    return arch_params(a) <= param_budget(a.shape[1])


def all_standard_cost(layers: int) -> float:
    return COST_BASE + layers * COST_PER_LAYER[STD]


def sample_in_budget(n: int, layers: int = 12, rng=None) -> np.ndarray:
    """Uniform sample of ``n`` in-budget architectures (rejection sampling)."""
    rng = np.random.default_rng(rng)
    out, have = [], 0
    while have < n:
        a = rng.integers(0, NV, size=(max(2 * (n - have), 1024), layers), dtype=np.int8)
        a = a[in_budget(a)]
        out.append(a)
        have += len(a)
    return np.concatenate(out)[:n]


# --- small helpers -----------------------------------------------------------

def _rng(family: str, layers: int, seed: int) -> np.random.Generator:
    return np.random.default_rng([zlib.crc32(family.encode()), int(layers), int(seed)])


def _logit(acc: float) -> float:
    p = (acc - CHANCE) / (1.0 - CHANCE)
    return math.log(p / (1.0 - p))


def _z_to_acc(z: np.ndarray) -> np.ndarray:
    return CHANCE + (1.0 - CHANCE) / (1.0 + np.exp(-z))


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _variant_penalty(rng) -> np.ndarray:
    """Per-layer logit penalty of each variant at unit position-sensitivity.

    standard is the reference; mqa / efficient share key-value projections
    (slightly less expressive lookups); linformer is a low-rank approximation;
    kernel-linear approximates the softmax kernel with a feature map; plain
    linear attention (no feature map) is the crudest.
    """
    return np.array([
        0.0,
        rng.uniform(0.08, 0.20),   # mqa
        rng.uniform(0.12, 0.30),   # efficient
        rng.uniform(0.45, 0.70),   # linformer
        rng.uniform(0.90, 1.20),   # linear
        rng.uniform(0.65, 0.90),   # kernel-linear
    ])


def _variant_quality(rng) -> np.ndarray:
    """'Exactness' of each variant in [0, 1] (1 = full softmax attention)."""
    return np.array([
        1.0,
        rng.uniform(0.86, 0.95),   # mqa
        rng.uniform(0.80, 0.90),   # efficient
        rng.uniform(0.45, 0.60),   # linformer
        rng.uniform(0.10, 0.22),   # linear
        rng.uniform(0.25, 0.40),   # kernel-linear
    ])


# Family functions take ``c``: a C-contiguous (L, N) int8 array of variant
# indices (one row per depth), so that every per-depth access is a contiguous
# vector; ``Landscape.true_accuracy`` does the conversion.

def _cols(archs: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(archs).T, dtype=np.int8)


def _pos_sum(table: np.ndarray, c: np.ndarray) -> np.ndarray:
    """sum_i table[i, c[i]] without materialising an (N, L) float array."""
    out = table[0][c[0]].astype(np.float64, copy=False)
    for i in range(1, c.shape[0]):
        out += table[i][c[i]]
    return out


def _pair_sum(pairs, tables: np.ndarray, c: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """sum over (i, j) in pairs of tables[k, c[i], c[j]]."""
    out = np.zeros(c.shape[1]) if out is None else out
    for k, (i, j) in enumerate(pairs):
        idx = c[i] * np.int8(NV) + c[j]            # <= 35: fits int8
        out += tables[k].ravel()[idx]
    return out


_COUNT_SHIFT = np.array([1 << (8 * v) for v in range(NV)], dtype=np.int64)


def _counts(c: np.ndarray) -> np.ndarray:
    """(N, NV) count of each variant per architecture (8 bits per variant)."""
    key = _COUNT_SHIFT[c[0]].copy()
    for i in range(1, c.shape[0]):
        key += _COUNT_SHIFT[c[i]]
    return np.stack([(key >> (8 * v)) & 255 for v in range(NV)], axis=1)


@lru_cache(maxsize=None)
def _calibration_sample(layers: int) -> np.ndarray:
    c = _cols(sample_in_budget(20_000, layers, rng=np.random.default_rng(20240601)))
    c.setflags(write=False)
    return c


def _calibrate(fn, params: dict, layers: int, set_knob, lo: float, hi: float,
               p_target: float, increasing: bool, target: float = TARGET, iters: int = 22) -> float:
    """Bisect a scalar difficulty knob so that a fraction ~p_target of random
    in-budget stacks reaches ``target``.  ``set_knob(params, x)`` writes the
    knob into params; the final value is written too and returned."""
    sample = _calibration_sample(layers)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        set_knob(params, mid)
        frac = float(np.mean(fn(params, sample) >= target))
        if (frac < p_target) == increasing:
            lo = mid
        else:
            hi = mid
    x = 0.5 * (lo + hi)
    set_knob(params, x)
    return x


# --- the Landscape object ----------------------------------------------------

@dataclass
class Landscape:
    family: str
    seed: int
    layers: int
    target: float = TARGET
    params: dict = field(default_factory=dict, repr=False)
    fn: Callable | None = field(default=None, repr=False)

    def true_accuracy(self, archs) -> np.ndarray:
        a = np.asarray(archs)
        if a.ndim == 1:
            a = a[None, :]
        if a.ndim != 2 or a.shape[1] != self.layers:
            raise ValueError(f"expected (N, {self.layers}) array, got {a.shape}")
        if a.size and (a.min() < 0 or a.max() >= NV):
            raise ValueError("variant index out of range")
        if a.dtype.kind not in "iu":
            if not np.array_equal(a, np.round(a)):
                raise ValueError("variant indices must be integers")
        out = self.fn(self.params, _cols(a))
        return np.clip(out, CHANCE, 1.0)

    def __call__(self, archs):
        return self.true_accuracy(archs)


# =============================================================================
# Family 1: additive
# =============================================================================

def _make_additive(layers: int, seed: int) -> Landscape:
    """Logit-linear: per-position variant effects + adjacent-pair interactions.

    logit(acc) = z0 + sum_i W[i, v_i] + sum_i P_i[v_i, v_{i+1}]

    The classic form of NAS surrogate benchmarks.  What it imitates: the cost
    of replacing softmax by an approximation depends strongly on *where* in the
    stack it happens.  A few depths carry the retrieval / aggregation work and
    are very sensitive (W large), most depths do local mixing that linear
    attention handles almost as well (W small).  Adjacent interactions: two
    fixed-state layers in a row compound their approximation error, while an
    exact layer right after a linear one partly re-sharpens the representation.
    Small random pair noise models everything else.
    Calibration: all effects scaled by one factor (x0.5 .. x2).
    """
    rng = _rng("additive", layers, seed)
    pen = _variant_penalty(rng)
    n_crit = int(rng.integers(max(1, round(0.25 * layers)), max(1, round(0.40 * layers)) + 1))
    crit = rng.choice(layers, n_crit, replace=False)
    sens = rng.uniform(0.03, 0.15, layers)
    sens[crit] = rng.uniform(0.6, 1.4, n_crit)
    W = -sens[:, None] * pen[None, :] + rng.normal(0.0, 0.015, (layers, NV))
    W[:, STD] = 0.0
    pairs = [(i, i + 1) for i in range(layers - 1)]
    P = rng.normal(0.0, 0.02, (len(pairs), NV, NV))
    g_ll = rng.uniform(0.03, 0.09)
    g_rep = rng.uniform(0.02, 0.07)
    lin = list(LINEARISH)
    for k in range(len(pairs)):
        P[k][np.ix_(lin, lin)] -= g_ll * rng.uniform(0.5, 1.5)
        P[k][np.ix_(lin, list(EXACT))] += g_rep * rng.uniform(0.5, 1.5)
    P[:, STD, STD] = 0.0
    acc_std = rng.uniform(0.935, 0.955)
    p_feasible = rng.uniform(0.05, 0.12)
    p = dict(z0=_logit(acc_std), W=W, P=P, pairs=pairs)

    def set_m(p, m):
        p["W"], p["P"] = W * m, P * m

    # difficulty: all effects scaled (x0.5 .. x2) so that ~p_feasible of random
    # in-budget stacks reach the target
    _calibrate(_acc_additive, p, layers, set_m, 0.5, 2.0, p_feasible, increasing=False)
    return Landscape("additive", seed, layers, params=p, fn=_acc_additive)


def _acc_additive(p, c):
    z = p["z0"] + _pos_sum(p["W"], c)
    _pair_sum(p["pairs"], p["P"], c, out=z)
    return _z_to_acc(z)


# =============================================================================
# Family 2: count-threshold
# =============================================================================

def _make_count_threshold(layers: int, seed: int) -> Landscape:
    """Accuracy depends only on HOW MANY layers of each kind, with steps.

    What it imitates: hybrid linear/softmax models (1:3 .. 1:7 ratios) where the
    number of exact-attention layers, not their placement, sets the recall
    capacity (the KV cache is the model's associative memory).  A weighted count
    R = sum_v cap[v] n_v must reach R_req: full multi-head softmax counts 1;
    MQA / efficient keep a single shared key-value head (0.1-0.3); linear
    layers add a little through their state.  Each missing quarter-unit of
    capacity costs a *quantised* logit step, growing convexly (steps**1.6) so
    that recall collapses once the deficit is large.  Plain linear attention
    (no feature map) is unstable in numbers: beyond a cap, every further
    plain-linear layer costs a step.  A mild per-layer penalty for every
    approximate layer completes it.  Invariant to permutations: huge plateaus
    of exactly tied architectures.
    Calibration: R_req = x + (L - x) cap[kernel-linear], x in [0.25 L, 0.44 L].
    """
    rng = _rng("count-threshold", layers, seed)
    scale = 12.0 / layers
    cap = np.array([1.0, rng.uniform(0.15, 0.30), rng.uniform(0.10, 0.25),
                    rng.uniform(0.15, 0.3), rng.uniform(0.0, 0.05), rng.uniform(0.08, 0.14)])
    # R_req = x + (L - x) cap[KER]: met by x full-softmax layers plus kernel-linear
    # layers everywhere else; x (0.25 L .. 0.44 L) is calibrated below
    beta = rng.uniform(0.3, 0.5)      # logit cost of the first missing quarter-unit
    lin_cap = int(round(layers * rng.uniform(0.08, 0.2)))
    gamma = rng.uniform(0.35, 0.6)                      # per extra plain-linear layer
    eps = scale * np.array([0.0, rng.uniform(0.04, 0.07), rng.uniform(0.05, 0.09),
                            rng.uniform(0.05, 0.08), rng.uniform(0.10, 0.14),
                            rng.uniform(0.04, 0.07)])
    acc_std = rng.uniform(0.935, 0.955)
    p_feasible = rng.uniform(0.05, 0.12)
    p = dict(cap=cap, r_req=0.0, beta=beta, lin_cap=lin_cap, gamma=gamma, eps=eps,
             z0=_logit(acc_std))      # all-standard: R = L >= R_req, no deficit

    def set_x(p, x):
        p["r_req"] = x + (layers - x) * cap[KER]

    # difficulty: about p_feasible of random in-budget stacks reach the target
    _calibrate(_acc_count, p, layers, set_x, 0.25 * layers, 0.44 * layers, p_feasible,
               increasing=False)
    return Landscape("count-threshold", seed, layers, params=p, fn=_acc_count)


def _z_count(p, n):
    R = n @ p["cap"]
    deficit = np.maximum(0.0, p["r_req"] - R)
    steps = np.ceil(4.0 * deficit - 1e-9)                # quarter-unit quantisation
    z = p["z0"] - n @ p["eps"] - p["beta"] * steps ** 1.6     # convex staircase: collapse
    z -= p["gamma"] * np.maximum(0, n[:, LIN] - p["lin_cap"])
    return z


def _acc_count(p, c):
    return _z_to_acc(_z_count(p, _counts(c)))


# =============================================================================
# Family 3: long-range
# =============================================================================

def _make_long_range(layers: int, seed: int) -> Landscape:
    """Interactions between far-apart layers (i, i+L/2), (first, last), ...

    logit(acc) = z0 + sum_i W[i, v_i] - sum_{(i,j) circuits} s_ij (1 - q(v_i) q(v_j))

    What it imitates: multi-layer circuits, e.g. an induction head composing a
    previous-token head at depth i with a matching head at depth i + L/2, or
    the first layer's token lookup being read out by the last layer.  A circuit
    works only when *both* ends attend precisely (AND-like, through the product
    of exactness q), so the two ends must be chosen jointly although they are
    far apart.  A few circuits are important (their endpoints cover at most
    40 % of the depths), most are weak; per-layer main effects are modest.
    Adjacent-pair surrogates cannot express this.
    Calibration: all effects scaled by one factor (x0.5 .. x2).
    """
    rng = _rng("long-range", layers, seed)
    pen = _variant_penalty(rng)
    q = _variant_quality(rng)
    h = max(1, layers // 2)
    pairs = [(i, i + h) for i in range(layers - h)] + [(0, layers - 1)]
    dmin = max(2, layers // 3)
    for _ in range(int(rng.integers(1, 3))):
        if layers - 1 < dmin:
            break
        i = int(rng.integers(0, layers - dmin))
        j = int(rng.integers(i + dmin, layers))
        pairs.append((i, j))
    pairs = sorted(set(pairs))
    # a few important circuits; their endpoints cover at most ~40 % of the depths
    n_strong = int(max(1, round(layers * rng.uniform(0.12, 0.26))))
    max_cover = max(2, int(round(0.4 * layers)))
    strong, cover = [], set()
    for k in rng.permutation(len(pairs)):
        if len(strong) == n_strong:
            break
        if len(cover | set(pairs[k])) <= max_cover:
            strong.append(k)
            cover |= set(pairs[k])
    s = rng.uniform(0.02, 0.08, len(pairs))
    s[strong] = rng.uniform(0.7, 1.4, len(strong))
    T = np.empty((len(pairs), NV, NV))
    for k in range(len(pairs)):
        T[k] = -s[k] * (1.0 - np.outer(q, q))
    sens = rng.uniform(0.02, 0.09, layers)
    W = -sens[:, None] * pen[None, :]
    acc_std = rng.uniform(0.935, 0.955)
    p_feasible = rng.uniform(0.05, 0.12)
    p = dict(z0=_logit(acc_std), W=W, T=T, pairs=pairs)

    def set_m(p, m):
        p["W"], p["T"] = W * m, T * m

    # difficulty: all effects scaled so that ~p_feasible of random stacks pass
    _calibrate(_acc_long_range, p, layers, set_m, 0.5, 2.0, p_feasible, increasing=False)
    return Landscape("long-range", seed, layers, params=p, fn=_acc_long_range)


def _acc_long_range(p, c):
    z = p["z0"] + _pos_sum(p["W"], c)
    _pair_sum(p["pairs"], p["T"], c, out=z)
    return _z_to_acc(z)


# =============================================================================
# Family 4: saturating
# =============================================================================

def _make_saturating(layers: int, seed: int) -> Landscape:
    """Product over contiguous segments of a saturating segment quality.

    acc = CHANCE + (1 - CHANCE) A prod_b f_b(E_b),
    E_b = sum_{i in b} w_i q(v_i)  (weights sum to 1 in each segment),
    f_b(E) = (1 - exp(-(E/K_b)^2)) / (1 - exp(-(1/K_b)^2)).

    What it imitates: a deep network as a pipeline of stages (local feature
    building, aggregation, retrieval, read-out); the task succeeds only if
    every stage does its job, so stage success probabilities multiply.
    Within a stage, layers are partly redundant: quality adds up and saturates,
    so no single layer is decisive, but one under-provisioned stage drags the
    whole product down.  Stages differ in how demanding they are (K_b; at
    least one demanding stage) and layers within a stage in weight (w_i drawn
    from a Gamma(0.8) and normalised).
    Calibration: all K_b scaled by one factor (x0.5 .. x2).
    """
    rng = _rng("saturating", layers, seed)
    q = _variant_quality(rng)
    n_seg = int(np.clip(layers // 3 + rng.integers(-1, 1), 2, 4)) if layers >= 4 else 2
    n_seg = min(n_seg, layers)
    cuts = np.sort(rng.choice(np.arange(1, layers), n_seg - 1, replace=False))
    bounds = np.concatenate([[0], cuts, [layers]])
    seg = np.zeros(layers, dtype=int)
    w = rng.gamma(0.8, 1.0, layers)
    for b in range(n_seg):
        lo, hi = bounds[b], bounds[b + 1]
        seg[lo:hi] = b
        w[lo:hi] /= w[lo:hi].sum()
    K = rng.uniform(0.22, 0.40, n_seg)
    K[rng.integers(n_seg)] = rng.uniform(0.45, 0.55)     # at least one demanding stage
    A = rng.uniform(0.955, 0.975)
    p_feasible = rng.uniform(0.05, 0.12)
    p = dict(q=q, seg=seg, w=w, K=K, A=A, n_seg=n_seg)

    def set_m(p, m):
        p["K"] = K * m

    # difficulty: all K_b scaled so that ~p_feasible of random stacks are feasible
    _calibrate(_acc_saturating, p, layers, set_m, 0.5, 2.0, p_feasible, increasing=False)
    return Landscape("saturating", seed, layers, params=p, fn=_acc_saturating)


def _acc_saturating(p, c):
    n_seg, seg, w, q, K = p["n_seg"], p["seg"], p["w"], p["q"], p["K"]
    E = [None] * n_seg
    for i in range(c.shape[0]):
        term = (w[i] * q)[c[i]]
        b = seg[i]
        if E[b] is None:
            E[b] = term
        else:
            E[b] += term
    out = np.full(c.shape[1], (1.0 - CHANCE) * p["A"])
    for b in range(n_seg):
        norm = 1.0 - np.exp(-(1.0 / K[b]) ** 2)
        x = E[b] / K[b]
        out *= (1.0 - np.exp(-x * x)) / norm
    return CHANCE + out


# =============================================================================
# Family 5: lookup-critical
# =============================================================================

def _make_lookup_critical(layers: int, seed: int) -> Landscape:
    """Specific positions must hold an exact-lookup layer, else recall collapses.

    acc = CHANCE + (1 - CHANCE) sigmoid(z0 + sum_i W[i, v_i])
                  * (floor + (1 - floor) prod_{c in critical} g(v_c))

    What it imitates: multi-query associative recall (MQAR): in trained hybrids
    one early layer (usually the first) performs the key-value lookup that the
    rest of the stack relies on; a fixed-state layer there cannot store the
    associations and recall accuracy falls to the non-recall floor.  For
    L >= 4 there is also a deeper read-out layer that must be exact (product
    of the two gates).  MQA / efficient lookups work but slightly worse
    (g < 1).  All other layers matter modestly through additive logit effects:
    2-3 "support" layers (forming keys/queries) are moderately sensitive, the
    rest barely.  Scale: with only the lookup layers exact and kernel-linear
    elsewhere the model reaches 0.80-0.88, so a few extra exact layers are
    needed, and the cheap near-misses lie just below the target.
    Calibration: the additive effects are scaled to hit that reference accuracy.
    """
    rng = _rng("lookup-critical", layers, seed)
    pen = _variant_penalty(rng)
    first = 0 if rng.random() < 0.7 else int(rng.integers(0, max(1, layers // 4) + 1))
    crit = [first]
    if layers >= 4:
        crit.append(int(rng.integers(layers // 2, layers)))
    crit = sorted(set(crit))
    g = np.array([1.0, rng.uniform(0.93, 0.98), rng.uniform(0.88, 0.95),
                  rng.uniform(0.35, 0.55), rng.uniform(0.05, 0.15), rng.uniform(0.12, 0.25)])
    floor = rng.uniform(0.35, 0.55)
    sens = rng.uniform(0.02, 0.08, layers)
    rest = np.setdiff1d(np.arange(layers), crit)
    support = rng.choice(rest, min(len(rest), int(rng.integers(2, 4))), replace=False)
    sens[support] = rng.uniform(0.2, 0.4, len(support))   # layers that prepare the keys
    W = -sens[:, None] * pen[None, :]
    W[crit] = 0.0
    acc_std = rng.uniform(0.935, 0.955)
    acc_ref = rng.uniform(0.80, 0.88)
    p = dict(z0=_logit(acc_std), W=W, crit=crit, g=g, floor=floor)
    ref = np.full((1, layers), KER)
    ref[0, crit] = STD

    def set_m(p, m):
        p["W"] = W * m

    # difficulty: with ONLY the lookup layers exact (kernel-linear elsewhere) the
    # model reaches acc_ref (0.80 .. 0.88): a few more exact layers are needed
    lo, hi = 0.0, 10.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        set_m(p, mid)
        if _acc_lookup(p, _cols(ref))[0] > acc_ref:
            lo = mid
        else:
            hi = mid
    set_m(p, 0.5 * (lo + hi))
    return Landscape("lookup-critical", seed, layers, params=p, fn=_acc_lookup)


def _acc_lookup(p, c):
    r = np.ones(c.shape[1])
    for k in p["crit"]:
        r *= p["g"][c[k]]
    base = _sigmoid(p["z0"] + _pos_sum(p["W"], c))
    return CHANCE + (1.0 - CHANCE) * base * (p["floor"] + (1.0 - p["floor"]) * r)


# =============================================================================
# Family 6: plateau (sub-task pass/fail)
# =============================================================================

def _make_plateau(layers: int, seed: int) -> Landscape:
    """Accuracy = fraction of K = 24 sub-tasks solved; each is pass/fail.

    Sub-task t is solved iff the mean exactness q(v) over its depth window
    [lo_t, hi_t) reaches theta_t.  Three kinds:
      hard   (recall-like): a single "hot" depth (2-4 of them per instance) must
             hold a precise enough layer; thresholds near 1 separate standard
             from mqa / efficient;
      medium (aggregation): a window of 2-3 layers needs roughly one exact layer;
      easy   (local patterns): a window of 2-4 layers fails only if it is almost
             all plain linear attention.
    acc = CHANCE + (1 - CHANCE) A (#solved / K); A is drawn so that at most one
    sub-task may fail for the target 0.90.

    What it imitates: benchmark suites of discrete skills (copying, counting,
    associative recall at different distances ...) that are either learned or
    not (emergence / grokking); aggregate accuracy moves in steps of
    (1-CHANCE) A / K, giving wide plateaus of exactly tied architectures and no
    gradient signal inside a plateau.
    Calibration: hard and medium thresholds shifted by one offset (-0.3 .. 0.2).
    """
    rng = _rng("plateau", layers, seed)
    q = _variant_quality(rng)
    K = 24
    lo = np.zeros(K, dtype=int)
    hi = np.zeros(K, dtype=int)
    theta = np.zeros(K)
    kind = np.zeros(K, dtype=int)          # 2 hard, 1 medium, 0 easy
    n_hot = max(1, int(round(layers * rng.uniform(0.20, 0.30))))
    hot = rng.choice(layers, n_hot, replace=False)
    n_hard = int(round(K * rng.uniform(0.30, 0.40)))
    n_med = int(round(K * rng.uniform(0.15, 0.25)))
    for t in range(K):
        if t < n_hard:
            kind[t] = 2
            wl = 1
            lo[t] = int(hot[t % n_hot])
            theta[t] = rng.uniform(0.75, 1.0)
        elif t < n_hard + n_med:
            kind[t] = 1
            wl = int(min(layers, rng.integers(2, 4)))
            lo[t] = int(rng.integers(0, layers - wl + 1))
            theta[t] = rng.uniform(0.45, 0.6)
        else:
            wl = int(min(layers, rng.integers(2, max(2, layers // 3) + 1)))
            lo[t] = int(rng.integers(0, layers - wl + 1))
            theta[t] = rng.uniform(0.2, 0.32)
        hi[t] = lo[t] + wl
    A = rng.uniform(0.93, 0.955)       # with K = 24: at most 1 sub-task may fail
    p_feasible = rng.uniform(0.05, 0.12)
    p = dict(q=q, lo=lo, hi=hi, theta=theta, A=A, K=K)

    def set_d(p, d):
        p["theta"] = np.clip(theta + d * (kind > 0), 0.05, 1.0)

    # difficulty: hard / medium thresholds shifted so that ~p_feasible of
    # random stacks pass (easy sub-tasks stay easy)
    _calibrate(_acc_plateau, p, layers, set_d, -0.3, 0.2, p_feasible, increasing=False)
    return Landscape("plateau", seed, layers, params=p, fn=_acc_plateau)


def _acc_plateau(p, c):
    q = p["q"]
    cs = [np.zeros(c.shape[1])]                      # prefix sums of exactness
    for i in range(c.shape[0]):
        cs.append(cs[-1] + q[c[i]])
    need = p["theta"] * (p["hi"] - p["lo"]) - 1e-9
    solved = np.zeros(c.shape[1], dtype=np.int16)
    for t in range(p["K"]):
        solved += (cs[p["hi"][t]] - cs[p["lo"][t]]) >= need[t]
    return CHANCE + (1.0 - CHANCE) * p["A"] * solved / p["K"]


# =============================================================================
# Family 7: mixed
# =============================================================================

def _make_mixed(layers: int, seed: int) -> Landscape:
    """Several mechanisms at once, read out on a finite evaluation set.

    logit = z0 + additive main effects (modest, 1-2 sensitive depths)
                - beta * max(0, k_req - #exact-softmax layers)      (count step)
                - s (1 - q(v_i) q(v_j)) for one far circuit (i, j)   (long range)
    acc   = CHANCE + (1-CHANCE) sigmoid(logit) * (floor + (1-floor) g(v_c))
                                                  (lookup gate at an early depth c)
    then floored to a 1/500 grid (a 500-example eval set).

    What it imitates: a real hybrid model is subject to all effects at once:
    a lookup layer near the bottom, a minimum number of softmax layers, a
    long-distance circuit and per-layer tolerance that varies with depth;
    the finite eval set quantises the result into small plateaus.
    Calibration: W, beta and s scaled by one factor (x0.5 .. x2).
    """
    rng = _rng("mixed", layers, seed)
    pen = _variant_penalty(rng)
    q = _variant_quality(rng)
    sens = rng.uniform(0.03, 0.14, layers) * (12.0 / layers) ** 0.5
    hot = rng.choice(layers, max(1, layers // 6), replace=False)
    sens[hot] = rng.uniform(0.4, 0.8, len(hot))
    W = -sens[:, None] * pen[None, :]
    c = int(rng.integers(0, max(1, layers // 4) + 1))
    W[c] = 0.0
    g = np.array([1.0, rng.uniform(0.93, 0.98), rng.uniform(0.9, 0.96),
                  rng.uniform(0.4, 0.6), rng.uniform(0.05, 0.15), rng.uniform(0.12, 0.25)])
    floor = rng.uniform(0.45, 0.6)
    k_req = max(1, int(round(layers * rng.uniform(0.25, 0.34))))
    beta = rng.uniform(0.8, 1.4)
    i = int(rng.integers(0, max(1, layers // 3)))
    j = int(rng.integers(max(i + 1, layers - max(1, layers // 3)), layers))
    s = rng.uniform(0.6, 1.1)
    acc_std = rng.uniform(0.935, 0.955)
    p_feasible = rng.uniform(0.05, 0.12)
    p = dict(z0=_logit(acc_std), W=W, c=c, g=g, floor=floor, k_req=k_req,
             beta=beta, i=i, j=j, s=s, q=q, grid=500)

    def set_m(p, m):
        p["W"], p["beta"], p["s"] = W * m, beta * m, s * m

    # difficulty: logit effects scaled so that ~p_feasible of random stacks pass
    _calibrate(_acc_mixed, p, layers, set_m, 0.5, 2.0, p_feasible, increasing=False)
    return Landscape("mixed", seed, layers, params=p, fn=_acc_mixed)


def _acc_mixed(p, c):
    n_exact = np.zeros(c.shape[1], dtype=np.int16)
    for i in range(c.shape[0]):
        n_exact += c[i] <= EFF
    z = p["z0"] + _pos_sum(p["W"], c)
    z -= p["beta"] * np.maximum(0.0, p["k_req"] - n_exact)
    z -= p["s"] * (1.0 - p["q"][c[p["i"]]] * p["q"][c[p["j"]]])
    gate = p["floor"] + (1.0 - p["floor"]) * p["g"][c[p["c"]]]
    acc = CHANCE + (1.0 - CHANCE) * _sigmoid(z) * gate
    return np.floor(acc * p["grid"] + 1e-9) / p["grid"]


# =============================================================================
# registry
# =============================================================================

FAMILIES: dict[str, Callable[[int, int], Landscape]] = {
    "additive": _make_additive,
    "count-threshold": _make_count_threshold,
    "long-range": _make_long_range,
    "saturating": _make_saturating,
    "lookup-critical": _make_lookup_critical,
    "plateau": _make_plateau,
    "mixed": _make_mixed,
}


def make(family: str, layers: int = 12, seed: int = 0) -> Landscape:
    """Instance ``seed`` of ``family`` for a ``layers``-layer stack."""
    from ..errors import ConfigError, unknown

    if family not in FAMILIES:
        raise unknown("landscape family", family, FAMILIES)
    if isinstance(layers, bool) or not isinstance(layers, int) or layers < 1:
        raise ConfigError(f"layers must be a positive integer, got {layers!r}")
    return FAMILIES[family](int(layers), int(seed))
