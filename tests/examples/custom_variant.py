"""A user-defined attention variant, outside the package: "shared-kv" attention.

Keys and values share one projection, K = V = X W_KV (a cheaper relative of standard
attention). Ten lines describe it; attncost derives every metric, the formulas, the
comparison and the CLI from them:

    attncost estimate --variant-file tests/examples/custom_variant.py --variant shared-kv
    attncost compare  --variant-file tests/examples/custom_variant.py -v standard,shared-kv
"""

from attncost.variants import register
from attncost.variants.core import attention, new_graph, output_projection, project


@register("shared-kv", title="Shared key/value projection (example)",
          source="tests/examples/custom_variant.py")
def shared_kv(d, o):
    g = new_graph(d)
    project(g, d, o, "q", "x", d.heads * d.d_head)
    project(g, d, o, "kv", "x", d.heads * d.d_head, kv_cache=True)
    merged = attention(g, d, o, q="q", k="kv", v="kv")
    output_projection(g, d, o, merged, d.heads * d.d_head)
    return g
