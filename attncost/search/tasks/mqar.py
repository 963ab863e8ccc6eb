"""``mqar``: multi-query associative recall (Arora et al. 2023, "Zoology", arXiv 2312.04927).

A sequence of key-value pairs then queries (keys drawn from the pairs); the model must output
each query's value at the query's position. Bidirectional attention is safe here because the
query section holds no answers, so non-causal variants (Linformer, linear) can be searched
too. It separates variants sharply: recall needs a sharp lookup, which low-rank and linear
attentions lack.

**Layout.** By default each key-value pair is one token (``pair_tokens = 1``): the lookup is
one attention hop. With Zoology's ``k1 v1 … kP vP q1 …`` layout (``pair_tokens = 0``) a 2-layer
standard model stayed at 25 % after 1,000 steps here, far beyond a CPU search's budget.
"""

from __future__ import annotations

from typing import Any

from ...config import AttentionConfig, ModelConfig
from . import register_task
from .base import Task, TaskData, TaskOption, TaskOptionError


def mqar_batch(n: int, pairs: int, queries: int, keys: int, values: int, generator,
               pair_tokens: bool = True) -> tuple:
    """``n`` MQAR sequences: inputs and targets (-100 = not scored).

    Each sequence draws ``pairs`` distinct keys (of ``keys``) and a value (of ``values``) for
    each, then ``queries`` keys from those pairs. ``pair_tokens``: one token per pair,
    ``1 + key·values + value``; a query is ``1 + keys·values + key``; answers are
    ``1 + keys·values + keys + value``. Zoology's layout: keys ``1..keys``, values
    ``keys+1..keys+values``."""
    import torch

    if pairs > keys:
        raise TaskOptionError(f"[task] pairs = {pairs} is invalid: needs at least as many "
                              f"keys, got keys = {keys}")
    k = torch.argsort(torch.rand(n, keys, generator=generator), dim=1)[:, :pairs]
    v = torch.randint(0, values, (n, pairs), generator=generator)
    which = torch.randint(0, pairs, (n, queries), generator=generator)
    q = torch.gather(k, 1, which)
    answers = torch.gather(v, 1, which)
    if pair_tokens:
        context = 1 + k * values + v
        q_tok = 1 + keys * values + q
        ans_tok = 1 + keys * values + keys + answers
    else:
        context = torch.stack([k + 1, v + keys + 1], dim=2).reshape(n, 2 * pairs)
        q_tok, ans_tok = q + 1, answers + keys + 1
    inputs = torch.cat([context, q_tok], dim=1)
    targets = torch.full_like(inputs, -100)
    targets[:, context.shape[1]:] = ans_tok
    return inputs, targets


@register_task
class MQAR(Task):
    name = "mqar"
    description = "multi-query associative recall (Zoology, Arora et al. 2023)"
    options = (
        TaskOption("pairs", "int", 16, "key-value pairs per sequence", minimum=1),
        TaskOption("queries", "int", 16, "queries per sequence", minimum=1),
        TaskOption("keys", "int", 32, "distinct keys", minimum=1),
        TaskOption("values", "int", 16, "distinct values", minimum=2),
        TaskOption("train_examples", "int", 20000, "training sequences", minimum=1),
        TaskOption("val_examples", "int", 1000, "held-out sequences", minimum=1),
        TaskOption("pair_tokens", "int", 1, "1: one token per pair; 0: Zoology's layout",
                   choices=(0, 1)),
    )
    input_kind = "tokens"
    output_kind = "token"

    def check(self, opts: dict[str, Any]) -> None:
        if opts["pairs"] > opts["keys"]:
            raise TaskOptionError(f"[task] pairs = {opts['pairs']} is invalid: needs at least "
                                  f"as many keys, got keys = {opts['keys']}")

    def seq_len(self, opts: dict[str, Any]) -> int:
        return (1 if opts["pair_tokens"] else 2) * opts["pairs"] + opts["queries"]

    def chance(self, opts: dict[str, Any]) -> float:
        return 1.0 / opts["values"]

    @staticmethod
    def vocab(opts: dict[str, Any]) -> int:
        """Token ids used (0 is padding)."""
        if opts["pair_tokens"]:
            return 1 + opts["keys"] * opts["values"] + opts["keys"] + opts["values"]
        return 1 + opts["keys"] + opts["values"]

    def model(self, layers: tuple[str, ...], attention: AttentionConfig,
              opts: dict[str, Any], **fields: Any) -> ModelConfig:
        base = self.skeleton(layers, attention, opts, **fields)
        return ModelConfig(name="mqar", vocab=self.vocab(opts), lm_head=True,
                           tied_embeddings=False, max_positions=self.seq_len(opts), **base)

    def data(self, opts: dict[str, Any], seed: int) -> TaskData:
        import torch

        shape = (opts["pairs"], opts["queries"], opts["keys"], opts["values"])
        pt = bool(opts["pair_tokens"])
        train = mqar_batch(opts["train_examples"], *shape,
                           torch.Generator().manual_seed(1000 + seed), pair_tokens=pt)
        val = mqar_batch(opts["val_examples"], *shape, torch.Generator().manual_seed(7),
                         pair_tokens=pt)  # the held-out set is fixed, whatever the seed
        return TaskData(*train, *val)
