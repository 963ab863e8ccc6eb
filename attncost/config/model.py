"""A whole transformer: a per-layer list of attention variants inside a standard stack.

A :class:`ModelConfig` describes embeddings (token, positional, token-type, or a vision patch
embedding with a class token; Gemma's √d_model scaling), ``layers`` transformer blocks (the
attention variant of each block, sliding-window or global; an FFN with GELU, ReLU, SwiGLU or
GeGLU, dense or a mixture of experts with shared experts and leading dense blocks; LayerNorm
or RMSNorm, pre- or post-norm, Gemma-2's sandwich norms, Phi-2's parallel blocks), a final
norm and heads (LM head tied or not, with a bias or BERT's MLM transform, logit soft-capping;
BERT's pooler, a classification MLP). The cost model turns it
into one graph (:func:`attncost.graphs.model_graph`); the PyTorch side builds the same model
(:class:`attncost.nn.model.TransformerModel`). Neither lives here: this is configuration only.

``layers`` is the one name for the per-layer variant list. Wherever a model is built or
changed, ``layers`` may also be a number of blocks: ``ModelConfig(layers=4)`` is four standard
blocks, ``model.with_(layers=12)`` twelve blocks of the model's (uniform) variant.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from ..errors import ConfigError, unknown
from .attention import AttentionConfig, check_choices, option

FFN_ACTIVATIONS = ("gelu", "relu", "swiglu", "geglu")
NORMS = ("layernorm", "rmsnorm")
POOLING = ("cls", "mean", "none")
#: The most blocks (or stacked layers) attncost builds: a graph holds every block's
#: operations and is walked in time linear in depth (about 1 ms per block), so 10,000
#: blocks take seconds; deeper stacks are refused up front rather than left running.
MAX_BLOCKS = 10_000


def _variant_list(layers: Any, current: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """``layers`` as a tuple of variant names: a sequence as it is; a number of blocks as
    that many of the current (uniform) variant, or of standard attention."""
    if isinstance(layers, bool):
        raise ConfigError(f"layers must be a number of blocks or a list of variant names, "
                          f"got {layers!r}")
    if isinstance(layers, int):
        if layers <= 0:
            raise ConfigError(f"layers must be a positive number of blocks, got {layers}")
        if layers > MAX_BLOCKS:
            raise ConfigError(f"layers={layers} is more blocks than attncost builds; allowed: "
                              f"1 to {MAX_BLOCKS:,}")
        kinds = set(current or ("standard",))
        if len(kinds) > 1:
            raise ConfigError(f"layers={layers} is ambiguous for a mixed stack "
                              f"({','.join(current or ())}); give the list of variants")
        return (kinds.pop(),) * layers
    if not isinstance(layers, (list, tuple)) or not layers or \
            not all(isinstance(v, str) and v for v in layers):
        raise ConfigError(f"layers must be a number of blocks or a list of variant names, "
                          f"got {layers!r}")
    return tuple(layers)


@dataclass(frozen=True)
class ModelConfig:
    """A transformer stack. ``layers`` is the attention variant of each block, in order."""

    name: str = option("custom", "Model name.", cli=False)
    layers: tuple[str, ...] = option(("standard",) * 2, "Attention variant of each block.",
                                     cli=False)
    attention: AttentionConfig = field(default_factory=AttentionConfig)
    d_ff: int | None = option(None, "FFN hidden width.", "d_model × ffn_mult")
    ffn_mult: float = option(4.0, "FFN width as a multiple of d_model (when d_ff is unset).")
    ffn_activation: str = option("gelu", "FFN activation (swiglu, geglu: gated, Shazeer 2020).",
                                 choices=FFN_ACTIVATIONS, noun="FFN activation")
    ffn_bias: bool = option(True, "Biases in the FFN.")
    experts: int = option(0, "Routed experts of each MoE FFN (0: a dense FFN).")
    experts_per_token: int = option(0, "Experts each token is routed to (top-k).")
    expert_d_ff: int | None = option(None, "Hidden width of one expert.", "d_ff")
    shared_experts: int = option(0, "Shared experts, always active: one FFN of shared_experts × "
                                 "expert_d_ff (DeepSeek).")
    dense_layers: int = option(0, "Leading blocks with a dense FFN before the MoE blocks "
                               "(DeepSeek's first_k_dense_replace).")
    moe_renormalize: bool = option(True, "Renormalise the top-k routing weights to sum to 1 "
                                   "(Mixtral, Qwen3-MoE; off: DeepSeek-V2).")
    global_every: int = option(0, "With a sliding window: every n-th block (n, 2n, ...) sees the "
                               "whole prefix (Gemma-2: 2); 0: none.")
    window_from: int = option(0, "With a sliding window: blocks before this index see the whole "
                              "prefix (Qwen2's max_window_layers).")
    norm: str = option("layernorm", "Normalisation.", choices=NORMS, noun="norm")
    norm_bias: bool = option(True, "LayerNorm bias.")
    pre_norm: bool = option(True, "Pre-norm blocks (GPT-2, ViT, LLaMA); off: post-norm (BERT).")
    sandwich_norm: bool = option(False, "Norms after the attention and after the FFN as well "
                                 "(Gemma-2).")
    parallel_block: bool = option(False, "Attention and FFN read one normed input and are "
                                  "added together (Phi-2, GPT-J).")
    final_norm: bool = option(True, "A norm after the last block.")
    vocab: int = option(0, "Vocabulary size (0: a vision model).")
    tied_embeddings: bool = option(True, "LM head shares the token embedding.")
    lm_head: bool = option(False, "A language-modelling head.")
    lm_head_bias: bool = option(False, "A bias on the LM head (Phi-2; BERT's MLM decoder).")
    mlm_transform: bool = option(False, "BERT's MLM transform before the LM head: dense + GELU "
                                 "+ LayerNorm.")
    final_softcap: float | None = option(None, "Soft-cap the LM logits, c·tanh(logits/c) "
                                         "(Gemma-2: 30).", "off")
    embed_scale: bool = option(False, "Scale the token embeddings by √d_model (Gemma).")
    max_positions: int = option(0, "Learned positions (0: none, e.g. RoPE).")
    token_types: int = option(0, "Token-type (segment) embeddings.")
    embedding_norm: bool = option(False, "A norm after the embeddings (BERT).")
    pooler: bool = option(False, "BERT's pooler (dense + tanh).")
    image_size: int = option(0, "Image side in pixels (vision models).")
    patch_size: int = option(0, "Patch side in pixels (vision models).")
    channels: int = option(3, "Image channels.")
    features: int = option(0, "Continuous features per position: a linear projection "
                           "features → d_model (with a bias) replaces the token embedding "
                           "(0: token ids or an image).")
    cls_token: bool = option(False, "A class token (vision models).")
    pooling: str = option("cls", "Pooling before the heads (none: the classifier runs on "
                          "every token).", choices=POOLING, noun="pooling")
    class_head: tuple[int, ...] = option((), "Classifier widths, e.g. 1000 or 6,1.", "none")
    dropout: bool = option(False, "Dropout on embeddings and residual branches.")
    source: str = option("", "Where the configuration comes from.", cli=False)
    published_params: int | None = option(None, "The published parameter count.", cli=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", _variant_list(self.layers))
        object.__setattr__(self, "class_head", tuple(self.class_head))
        if not isinstance(self.attention, AttentionConfig):
            raise ConfigError(f"attention must be an AttentionConfig, got {self.attention!r}")
        check_choices(self)
        for name in ("vocab", "max_positions", "token_types", "image_size", "patch_size",
                     "features"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ConfigError(f"{name} must be a non-negative integer, got {v!r}")
        if isinstance(self.channels, bool) or not isinstance(self.channels, int) or \
                self.channels <= 0:
            raise ConfigError(f"channels must be a positive integer, got {self.channels!r}")
        if self.d_ff is not None and (isinstance(self.d_ff, bool) or
                                      not isinstance(self.d_ff, int) or self.d_ff <= 0):
            raise ConfigError(f"d_ff must be a positive integer, got {self.d_ff!r}")
        if isinstance(self.ffn_mult, bool) or not isinstance(self.ffn_mult, (int, float)) or \
                not self.ffn_mult > 0 or self.ffn_mult == float("inf"):
            raise ConfigError(f"ffn_mult must be a positive number, got {self.ffn_mult!r}")
        if self.resolved_d_ff <= 0:
            raise ConfigError(f"ffn_mult={self.ffn_mult} gives an FFN width of "
                              f"{self.resolved_d_ff}; it must be at least 1")
        for w in self.class_head:
            if isinstance(w, bool) or not isinstance(w, int) or w <= 0:
                raise ConfigError(f"class_head widths must be positive integers, got "
                                  f"{self.class_head!r}")
        for name in ("ffn_bias", "norm_bias", "pre_norm", "final_norm", "tied_embeddings",
                     "lm_head", "embedding_norm", "pooler", "cls_token", "dropout",
                     "moe_renormalize", "sandwich_norm", "parallel_block", "lm_head_bias",
                     "mlm_transform", "embed_scale"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, got {getattr(self, name)!r}")
        self._check_experts()
        self._check_block_and_heads()
        self._check_shape()

    def _check_experts(self) -> None:
        for name in ("experts", "experts_per_token", "shared_experts", "dense_layers",
                     "global_every", "window_from"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ConfigError(f"{name} must be a non-negative integer, got {v!r}")
        e, k = self.experts, self.experts_per_token
        if e and not 1 <= k <= e:
            raise ConfigError(f"experts_per_token={k} must be between 1 and experts={e}")
        if not e and (k or self.shared_experts):
            raise ConfigError(f"experts_per_token={k} and shared_experts={self.shared_experts} "
                              f"need routed experts (experts > 0)")
        if self.expert_d_ff is not None and (isinstance(self.expert_d_ff, bool) or
                                             not isinstance(self.expert_d_ff, int) or
                                             self.expert_d_ff <= 0):
            raise ConfigError(f"expert_d_ff must be a positive integer, got {self.expert_d_ff!r}")

    def _check_block_and_heads(self) -> None:
        if self.parallel_block and (not self.pre_norm or self.sandwich_norm):
            raise ConfigError("parallel_block needs pre_norm=True and sandwich_norm=False "
                              "(one norm feeds both branches)")
        if self.sandwich_norm and not self.pre_norm:
            raise ConfigError("sandwich_norm needs pre_norm=True (Gemma-2: norms before and "
                              "after each branch)")
        if (self.lm_head_bias or self.mlm_transform or self.final_softcap is not None) and \
                not self.lm_head:
            raise ConfigError("lm_head_bias, mlm_transform and final_softcap need lm_head=True")
        c = self.final_softcap
        if c is not None and (isinstance(c, bool) or not isinstance(c, (int, float)) or
                              not 0 < c < float("inf")):
            raise ConfigError(f"final_softcap must be a positive number or unset, got {c!r}")

    def _check_features(self) -> None:
        """Continuous inputs replace the token embedding: no token types, no embedding
        scale, no image; a vocabulary only for an untied LM head."""
        if self.is_vision or self.token_types or self.embed_scale:
            raise ConfigError(f"features={self.features} (continuous inputs) cannot be combined "
                              f"with an image, token_types or embed_scale")
        if self.vocab and not (self.lm_head and not self.tied_embeddings):
            raise ConfigError(f"features={self.features} replaces the token embedding; "
                              f"vocab={self.vocab} needs an untied LM head (lm_head=True, "
                              f"tied_embeddings=False), or set vocab=0")

    def _check_shape(self) -> None:
        if self.features:
            self._check_features()
        elif self.is_vision:
            if self.image_size % self.patch_size:
                raise ConfigError(f"patch_size={self.patch_size} must divide "
                                  f"image_size={self.image_size}")
            if self.attention.seq_len != self.vision_tokens:
                raise ConfigError(
                    f"seq_len={self.attention.seq_len} does not match the image: "
                    f"({self.image_size}/{self.patch_size})² patches"
                    f"{' + 1 class token' if self.cls_token else ''} = {self.vision_tokens}")
        elif self.vocab <= 0:
            raise ConfigError("a text model needs vocab > 0 (or image_size and patch_size, or "
                              "features)")
        if self.max_positions and self.attention.seq_len > self.max_positions:
            raise ConfigError(f"seq_len={self.attention.seq_len} exceeds the model's "
                              f"max_positions={self.max_positions}")

    @property
    def is_features(self) -> bool:
        """Continuous feature vectors in, through a linear projection."""
        return self.features > 0

    @property
    def is_vision(self) -> bool:
        return self.image_size > 0 and self.patch_size > 0

    @property
    def vision_tokens(self) -> int:
        return (self.image_size // self.patch_size) ** 2 + int(self.cls_token)

    @property
    def resolved_d_ff(self) -> int:
        if self.d_ff is not None:
            return self.d_ff
        return int(round(self.attention.d_model * self.ffn_mult))

    @property
    def resolved_expert_d_ff(self) -> int:
        return self.expert_d_ff if self.expert_d_ff is not None else self.resolved_d_ff

    def is_moe_block(self, i: int) -> bool:
        """Whether block ``i`` (0-based) has a mixture-of-experts FFN."""
        return self.experts > 0 and i >= self.dense_layers

    def slides(self, i: int) -> bool:
        """Whether block ``i`` (0-based) uses the sliding window: with a window, every block
        from ``window_from`` on except every ``global_every``-th (HF Gemma-2: layer i is
        global when (i + 1) % 2 == 0; Qwen2: sliding from max_window_layers)."""
        if self.attention.window is None or i < self.window_from:
            return False
        return not (self.global_every and (i + 1) % self.global_every == 0)

    def block_attention(self, i: int) -> AttentionConfig:
        """The attention configuration of block ``i``: the window removed where it is
        global."""
        if self.attention.window is None or self.slides(i):
            return self.attention
        return self.attention.with_(window=None)

    def with_(self, **changes: Any) -> "ModelConfig":
        """A copy with model fields or attention fields (``seq_len``, ``dtype``...) changed.
        ``layers`` may be a number of blocks (of the current uniform variant); ``variant``
        sets every block's variant."""
        model_fields = {f.name for f in fields(self)}
        attn_fields = {f.name for f in fields(AttentionConfig)}
        bad = set(changes) - model_fields - attn_fields - {"variant"}
        if bad:
            raise unknown("model field", sorted(bad)[0], model_fields | attn_fields)
        mine = {k: v for k, v in changes.items() if k in model_fields}
        attn = {k: v for k, v in changes.items() if k in attn_fields}
        layers = _variant_list(mine.get("layers", self.layers), self.layers)
        if "variant" in changes:
            layers = (changes["variant"],) * len(layers)
        mine["layers"] = layers
        return replace(self, attention=self.attention.with_(**attn) if attn else self.attention,
                       **mine)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["attention"] = self.attention.as_dict()
        out["layers"] = list(self.layers)
        out["class_head"] = list(self.class_head)
        return out
