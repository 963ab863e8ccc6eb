"""A user-defined attention variant, outside the package: "shared-kv" attention.

Keys and values share one projection, K = V = X W_KV (a cheaper relative of standard
attention). One file holds both sides: the cost description (ten lines; attncost derives
every metric, the formulas, the comparison and the CLI from it) and its PyTorch module (so
``validate`` can measure it and ``search`` can train it):

    attncost estimate --variant-file tests/examples/custom_variant.py --variant shared-kv
    attncost compare  --variant-file tests/examples/custom_variant.py -v standard,shared-kv
    attncost validate --variant-file tests/examples/custom_variant.py -v shared-kv --d-model 64
"""

from attncost.nn import register_module
from attncost.variants import register
from attncost.variants.core import attention, new_graph, output_projection, project


@register("shared-kv", title="Shared key/value projection (example)",
          source="tests/examples/custom_variant.py", colour="#882255")
def shared_kv(d, o):
    g = new_graph(d)
    project(g, d, o, "q", "x", d.heads * d.d_head)
    project(g, d, o, "kv", "x", d.heads * d.d_head, kv_cache=True)
    merged = attention(g, d, o, q="q", k="kv", v="kv")
    output_projection(g, d, o, merged, d.heads * d.d_head)
    return g


@register_module("shared-kv")
def shared_kv_module(cfg, dropout):
    """The same attention in PyTorch (torch is imported only when a module is built)."""
    from torch import nn

    from attncost.nn.attention import merge_heads, softmax_attention, split_heads

    class SharedKV(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            inner = cfg.heads * cfg.dims().d_head
            self.q_proj = nn.Linear(cfg.d_model, inner, bias=cfg.bias)
            self.kv_proj = nn.Linear(cfg.d_model, inner, bias=cfg.bias)
            self.out_proj = nn.Linear(inner, cfg.d_model, bias=cfg.bias)

        def forward(self, x):
            h = cfg.heads
            return self.out_proj(merge_heads(self.attend(split_heads(self.q_proj(x), h),
                                                         split_heads(self.kv_proj(x), h))))

        def attend(self, q, kv):  # keys and values: one tensor, as in the cost description
            return softmax_attention(q, kv, kv, causal=cfg.causal, impl=cfg.impl,
                                     dropout=dropout, training=self.training)

    return SharedKV()
