"""The typed configuration of one attention layer, and the one place bad input is caught.

:class:`AttentionConfig` holds numbers and options. :meth:`AttentionConfig.dims` gives the
dimensions as Python ints; :func:`symbolic_dims` gives the same names as sympy symbols;
:func:`resolve_dims` resolves the defaults of either, or of numpy arrays (sweeps). Variant
builders read a :class:`Dims` and never care which kind they got: that is how one description
yields exact integers, sympy formulas and lambdified numpy functions alike.

Every field carries its help text (``metadata``): the command line builds its flags from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, Mapping

from ..errors import ConfigError, unknown
from ..units import DTYPE_BYTES

IMPLEMENTATIONS = ("materialised", "fused")
SHARING_MODES = ("none", "headwise", "key-value", "layerwise")
OPTIMIZERS = {"adam": 2, "adamw": 2, "sgd": 0, "sgd-momentum": 1}

#: Dimension fields, in the order lambdified functions take them.
DIM_FIELDS = ("batch", "seq_len", "d_model", "heads", "d_head", "kv_heads", "k",
              "max_seq_len", "kv_latent", "q_latent", "rope_dim")

#: How each dimension is written in formulas (sympy symbol names; ``ell`` prints as ℓ).
SYMBOL_NAMES = {
    "batch": "b", "seq_len": "ell", "d_model": "d_m", "heads": "h", "d_head": "d_h",
    "kv_heads": "g", "k": "k", "max_seq_len": "L", "kv_latent": "d_c", "q_latent": "d_cq",
    "rope_dim": "d_hR",
}


def option(default: Any, help: str, shown: str | None = None, *, choices: Any = None,
           noun: str | None = None, cli: bool = True) -> Any:
    """A dataclass field with its command-line help: ``shown`` is the default as the help
    prints it (for defaults resolved from other fields), ``choices`` the allowed values and
    ``noun`` what an error calls one of them; ``cli=False`` keeps it off the command line."""
    meta = {"help": help, "shown": shown, "choices": tuple(choices) if choices else None,
            "noun": noun, "cli": cli}
    return field(default=default, metadata=meta)


def check_choices(config: Any) -> None:
    """Every field of a dataclass ``config`` declared with ``choices`` holds one of them."""
    for f in fields(config):
        choices = f.metadata.get("choices")
        if choices and getattr(config, f.name) not in choices:
            raise unknown(f.metadata.get("noun") or f.name, getattr(config, f.name), choices)


@dataclass(frozen=True)
class Dims:
    """Dimensions a variant builder reads: ints, or sympy symbols for formulas."""

    batch: Any
    seq_len: Any
    d_model: Any
    heads: Any
    d_head: Any
    kv_heads: Any
    k: Any
    max_seq_len: Any
    kv_latent: Any
    q_latent: Any
    rope_dim: Any

    @property
    def tokens(self) -> Any:
        return self.batch * self.seq_len


@dataclass(frozen=True)
class Options:
    """Structural choices: they change the shape of the formulas, not just their values."""

    bias: bool = False
    causal: bool = False
    impl: str = "materialised"
    sharing: str = "headwise"
    dropout: bool = False
    window: int | None = None  # causal sliding window (keys per query)
    qkv_bias: bool = False  # biases on the input projections only
    softcap: float | None = None  # logit soft-capping c·tanh(s/c)
    qk_norm: bool = False  # RMSNorm over each head's queries and keys
    latent_norm: bool = False  # MLA: RMSNorms on the latents
    direct_q: bool = False  # MLA: no query latent


def default_kv_heads(heads: int) -> int:
    """GQA's default number of key/value heads: the largest divisor of ``heads`` that is at
    most heads/4 (8 → 2, 12 → 3, 32 → 8), or 1."""
    best = 1
    for g in range(1, heads // 4 + 1):
        if heads % g == 0:
            best = g
    return best


def _at_least_one(x: Any) -> Any:
    if hasattr(x, "shape"):
        import numpy as np

        return np.maximum(1, x)
    return max(1, x)


def _kv_heads_of(heads: Any) -> Any:
    if hasattr(heads, "shape"):
        import numpy as np

        values = {int(h): default_kv_heads(int(h)) for h in np.unique(heads)}
        return np.vectorize(values.__getitem__, otypes=[heads.dtype])(heads)
    return default_kv_heads(heads)


#: How each optional dimension defaults, in resolution order (DeepSeek-V2's latent ratios
#: for MLA; Linformer's k = L/4). One rule set for ints (``dims``) and arrays (sweeps).
DEFAULT_RULES: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "d_head": lambda d: d["d_model"] // d["heads"],
    "max_seq_len": lambda d: d["seq_len"],
    "k": lambda d: _at_least_one(d["max_seq_len"] // 4),
    "kv_heads": lambda d: _kv_heads_of(d["heads"]),
    "kv_latent": lambda d: 4 * d["d_head"],
    "q_latent": lambda d: 12 * d["d_head"],
    "rope_dim": lambda d: _at_least_one(d["d_head"] // 2),
}


def resolve_dims(given: Mapping[str, Any]) -> dict[str, Any]:
    """Every dimension of :data:`DIM_FIELDS`: those ``given`` (not None) as they are, the
    others by :data:`DEFAULT_RULES` — ints stay ints, numpy arrays stay arrays."""
    out = {n: given[n] for n in DIM_FIELDS if given.get(n) is not None}
    for name, rule in DEFAULT_RULES.items():
        if name not in out:
            out[name] = rule(out)
    return {n: out[n] for n in DIM_FIELDS}


@dataclass(frozen=True)
class AttentionConfig:
    """One attention layer: sizes, options, dtype and the training set-up.

    Defaults follow the papers: no biases (``bias=True`` gives ``nn.Linear``'s), non-causal,
    d_head = d_model / heads. ``k`` (Linformer) defaults to seq_len/4; ``max_seq_len`` (the
    length Super's W_A and Linformer's E, F are built for) defaults to seq_len. MLA's latent
    sizes default to DeepSeek-V2's ratios: kv_latent = 4·d_head, q_latent = 12·d_head,
    rope_dim = d_head/2. What real checkpoints add is off by default: a causal sliding
    ``window``, biases on the input projections only (``qkv_bias``), logit soft-capping,
    q/k RMSNorms, and MLA's normed latents and direct queries (``latent_norm``, ``direct_q``).
    """

    d_model: int = option(512, "Model width d_model.")
    heads: int = option(8, "Attention heads.")
    seq_len: int = option(512, "Sequence length ℓ.")
    batch: int = option(1, "Sequences per batch.")
    d_head: int | None = option(None, "Head width.", "d_model/heads")
    kv_heads: int | None = option(None, "GQA key/value heads.",
                                  "largest divisor of heads ≤ heads/4")
    k: int | None = option(None, "Linformer projected length k.", "max_seq_len/4")
    max_seq_len: int | None = option(
        None, "Length Super's W_A and Linformer's E,F are built for.", "seq_len")
    kv_latent: int | None = option(None, "MLA KV latent d_c.", "4·d_head")
    q_latent: int | None = option(None, "MLA query latent d_c'.", "12·d_head")
    rope_dim: int | None = option(None, "MLA RoPE dimension d_hR.", "d_head/2")
    bias: bool = option(False, "Biases on every projection.", "off, as the papers")
    causal: bool = option(False, "Causal masking.")
    impl: str = option("materialised", "materialised (explicit ℓ×ℓ scores) or fused "
                       "(flash-style SDPA).", choices=IMPLEMENTATIONS, noun="implementation")
    sharing: str = option("headwise", "Linformer sharing of E, F.", choices=SHARING_MODES,
                           noun="Linformer sharing mode")
    dropout: bool = option(False, "Count dropout masks (saved for backward).")
    window: int | None = option(
        None, "Sliding-window attention: each query sees its last `window` keys, itself "
        "included (Mistral, Gemma-2); needs causal.", "off: the whole causal prefix")
    qkv_bias: bool = option(False, "Biases on the input projections only (q, k, v: Qwen2), none "
                            "on the output projection.", "off; --bias puts them everywhere")
    softcap: float | None = option(None, "Soft-cap the attention logits, c·tanh(scores/c) "
                                   "(Gemma-2: 50); materialised only.", "off")
    qk_norm: bool = option(False, "RMSNorm over each head's queries and keys (Qwen3; "
                           "standard, MQA, GQA).")
    latent_norm: bool = option(False, "MLA: RMSNorms on the KV and query latents "
                               "(DeepSeek-V2/V3).")
    direct_q: bool = option(False, "MLA: queries projected from x directly, no query latent "
                            "(DeepSeek-V2-Lite).")
    dtype: str = option("fp32", "Weights and activations dtype.", choices=DTYPE_BYTES)
    optimizer: str = option("adam", "Optimizer whose state is counted.", choices=OPTIMIZERS)
    master_weights: bool | None = option(None, "fp32 master weights (mixed precision).",
                                         "on for 16-bit dtypes")
    input_requires_grad: bool = option(True, "The layer's input needs a gradient.", cli=False)

    def __post_init__(self) -> None:
        for name in DIM_FIELDS:
            value = getattr(self, name)
            if value is None and name not in ("d_model", "heads", "seq_len", "batch"):
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
            if value <= 0:
                raise ConfigError(f"{name} must be a positive integer, got {value}")
        if self.d_head is None and self.d_model % self.heads:
            raise ConfigError(
                f"heads={self.heads} does not divide d_model={self.d_model}; choose heads that "
                f"divide it or set d_head")
        if self.kv_heads is not None and self.heads % self.kv_heads:
            raise ConfigError(
                f"kv_heads={self.kv_heads} must divide heads={self.heads}")
        if self.max_seq_len is not None and self.seq_len > self.max_seq_len:
            raise ConfigError(
                f"seq_len={self.seq_len} exceeds max_seq_len={self.max_seq_len} (the length "
                f"the model is built for); allowed: seq_len <= max_seq_len")
        if self.k is not None and self.k > self.resolved_max_seq_len:
            raise ConfigError(
                f"k={self.k} exceeds the sequence length {self.resolved_max_seq_len}; Linformer "
                f"projects the sequence down, so k must be <= seq_len")
        check_choices(self)
        for name in ("bias", "causal", "dropout", "input_requires_grad", "qkv_bias", "qk_norm",
                     "latent_norm", "direct_q"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, got {getattr(self, name)!r}")
        self._check_window_and_softcap()

    def _check_window_and_softcap(self) -> None:
        w = self.window
        if w is not None:
            if isinstance(w, bool) or not isinstance(w, int) or w <= 0:
                raise ConfigError(f"window must be a positive integer (keys per query) or "
                                  f"unset, got {w!r}")
            if not self.causal:
                raise ConfigError(f"window={w} needs causal=True: the sliding window bounds "
                                  f"the causal prefix (Mistral, Gemma-2); allowed: causal with "
                                  f"a window, or no window")
        c = self.softcap
        if c is not None:
            if isinstance(c, bool) or not isinstance(c, (int, float)) or not 0 < c < float("inf"):
                raise ConfigError(f"softcap must be a positive number or unset, got {c!r}")
            if self.impl == "fused":
                raise ConfigError(f"softcap={c} needs impl=materialised: the fused kernel "
                                  f"(scaled_dot_product_attention) cannot soft-cap logits")

    # -- resolved defaults -------------------------------------------------------------

    @property
    def resolved_max_seq_len(self) -> int:
        return self.max_seq_len if self.max_seq_len is not None else self.seq_len

    @property
    def resolved_master_weights(self) -> bool:
        if self.master_weights is not None:
            return self.master_weights
        return DTYPE_BYTES[self.dtype] < 4

    def dims(self) -> Dims:
        """The dimensions as exact Python ints, defaults resolved (:data:`DEFAULT_RULES`)."""
        return Dims(**resolve_dims({n: getattr(self, n) for n in DIM_FIELDS}))

    def options(self) -> Options:
        return Options(bias=self.bias, causal=self.causal, impl=self.impl,
                       sharing=self.sharing, dropout=self.dropout, window=self.window,
                       qkv_bias=self.qkv_bias, softcap=self.softcap, qk_norm=self.qk_norm,
                       latent_norm=self.latent_norm, direct_q=self.direct_q)

    def with_(self, **changes: Any) -> "AttentionConfig":
        """A copy with some fields changed (validated again)."""
        known = {f.name for f in fields(self)}
        for key in changes:
            if key not in known:
                raise unknown("configuration field", key, known)
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """Inputs as given plus the resolved dimensions (what JSON output echoes)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        dims = self.dims()
        out.update({name: getattr(dims, name) for name in DIM_FIELDS})
        out["master_weights"] = self.resolved_master_weights
        return out


def symbolic_dims() -> Dims:
    """The dimensions as positive integer sympy symbols (imports sympy)."""
    import sympy

    return Dims(**{name: sympy.Symbol(SYMBOL_NAMES[name], positive=True, integer=True)
                   for name in DIM_FIELDS})
