"""The typed configuration of one attention layer, and the one place bad input is caught.

:class:`AttentionConfig` holds numbers and options. :meth:`AttentionConfig.dims` gives the
dimensions as Python ints; :func:`symbolic_dims` gives the same names as sympy symbols. Variant
builders read a :class:`Dims` and never care which kind they got: that is how one description
yields exact integers, sympy formulas and lambdified numpy functions alike.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from .errors import ConfigError, unknown
from .units import DTYPE_BYTES

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


def _default_kv_heads(heads: int) -> int:
    """GQA's default number of key/value heads: the largest divisor of ``heads`` that is at
    most heads/4 (8 → 2, 12 → 3, 32 → 8), or 1."""
    best = 1
    for g in range(1, heads // 4 + 1):
        if heads % g == 0:
            best = g
    return best


@dataclass(frozen=True)
class AttentionConfig:
    """One attention layer: sizes, options, dtype and the training set-up.

    Defaults follow the papers: no biases (``bias=True`` gives ``nn.Linear``'s), non-causal,
    d_head = d_model / heads. ``k`` (Linformer) defaults to seq_len/4; ``max_seq_len`` (the
    length Super's W_A and Linformer's E, F are built for) defaults to seq_len. MLA's latent
    sizes default to DeepSeek-V2's ratios: kv_latent = 4·d_head, q_latent = 12·d_head,
    rope_dim = d_head/2.
    """

    d_model: int = 512
    heads: int = 8
    seq_len: int = 512
    batch: int = 1
    d_head: int | None = None
    kv_heads: int | None = None
    k: int | None = None
    max_seq_len: int | None = None
    kv_latent: int | None = None
    q_latent: int | None = None
    rope_dim: int | None = None
    bias: bool = False
    causal: bool = False
    impl: str = "materialised"
    sharing: str = "headwise"
    dropout: bool = False
    dtype: str = "fp32"
    optimizer: str = "adam"
    master_weights: bool | None = None
    input_requires_grad: bool = True

    def __post_init__(self) -> None:
        for name in ("d_model", "heads", "seq_len", "batch", "d_head", "kv_heads", "k",
                     "max_seq_len", "kv_latent", "q_latent", "rope_dim"):
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
        if self.impl not in IMPLEMENTATIONS:
            raise unknown("implementation", self.impl, IMPLEMENTATIONS)
        if self.sharing not in SHARING_MODES:
            raise unknown("Linformer sharing mode", self.sharing, SHARING_MODES)
        if self.dtype not in DTYPE_BYTES:
            raise unknown("dtype", self.dtype, DTYPE_BYTES)
        if self.optimizer not in OPTIMIZERS:
            raise unknown("optimizer", self.optimizer, OPTIMIZERS)

    # -- resolved defaults -------------------------------------------------------------

    @property
    def resolved_d_head(self) -> int:
        return self.d_head if self.d_head is not None else self.d_model // self.heads

    @property
    def resolved_max_seq_len(self) -> int:
        return self.max_seq_len if self.max_seq_len is not None else self.seq_len

    @property
    def resolved_master_weights(self) -> bool:
        if self.master_weights is not None:
            return self.master_weights
        return DTYPE_BYTES[self.dtype] < 4

    def dims(self) -> Dims:
        """The dimensions as exact Python ints, defaults resolved."""
        d_head = self.resolved_d_head
        return Dims(
            batch=self.batch, seq_len=self.seq_len, d_model=self.d_model, heads=self.heads,
            d_head=d_head,
            kv_heads=self.kv_heads if self.kv_heads is not None else _default_kv_heads(self.heads),
            k=self.k if self.k is not None else max(1, self.resolved_max_seq_len // 4),
            max_seq_len=self.resolved_max_seq_len,
            kv_latent=self.kv_latent if self.kv_latent is not None else 4 * d_head,
            q_latent=self.q_latent if self.q_latent is not None else 12 * d_head,
            rope_dim=self.rope_dim if self.rope_dim is not None else max(1, d_head // 2),
        )

    def options(self) -> Options:
        return Options(bias=self.bias, causal=self.causal, impl=self.impl,
                       sharing=self.sharing, dropout=self.dropout)

    def with_(self, **changes: Any) -> "AttentionConfig":
        """A copy with some fields changed (validated again)."""
        known = {f.name for f in fields(self)}
        for key in changes:
            if key not in known:
                raise unknown("configuration field", key, known)
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """Inputs as given plus the resolved dimensions (what JSON output echoes)."""
        out = asdict(self)
        dims = self.dims()
        out.update({name: getattr(dims, name) for name in DIM_FIELDS})
        out["master_weights"] = self.resolved_master_weights
        return out


def symbolic_dims() -> Dims:
    """The dimensions as positive integer sympy symbols (imports sympy)."""
    import sympy

    return Dims(**{name: sympy.Symbol(SYMBOL_NAMES[name], positive=True, integer=True)
                   for name in DIM_FIELDS})
