"""``induction``: the induction-head task at long length (Olsson et al. 2022, "In-context
Learning and Induction Heads", arXiv 2209.11895; the synthetic of Fu et al. 2023, "Hungry
Hungry Hippos", arXiv 2212.14052, Section 3.1).

A sequence of ``seq_len`` random tokens (of ``vocab`` − 2 content tokens) holds a trigger
token once, at a random position, followed by the answer token; the last position is the
trigger again, and the model must output, there, the token that followed the trigger (one
of the content tokens: per-token classification, only the last position scored). Solving it
takes two attention steps — mark the token after the trigger (a previous-token head), then
look it up from the query (an induction head) — so it separates attentions that can point at
one position of a long sequence from those that blur it (low-rank, kernelised).

With ``hops = 1`` the task is *selective retrieval*: the answer is marked where it stands (a
token of its own, ``vocab − 2 + answer``) and the trigger closes the sequence, so one lookup
suffices — still one position out of ``seq_len``, which low-rank and kernelised attention
blur (``search/long-sequence.toml``).

Bidirectional attention is safe: the answer appears only after the first trigger, and the
query position holds the trigger, not the answer.

**What is known.** An independent re-implementation of the H3 synthetics (the
``berlino/seq_icl`` repository, adapted from HazyResearch's ``safari``; its README) reports
97.2 % test accuracy for a Transformer on the induction-head task, against 8.8 % for S4D
and 5.0 % for a random guess. What attncost's training reaches here: README, "Tasks".
"""

from __future__ import annotations

from typing import Any

from . import register_task
from .base import Task, TaskData
from .options import TaskOption


def induction_batch(n: int, seq_len: int, vocab: int, generator: Any,
                    hops: int = 2) -> tuple[Any, Any]:
    """``n`` sequences and targets (-100 except at the last position). Ids: 0 unused (pad),
    1 the trigger, 2 … vocab − 1 content; with ``hops = 1`` the trigger and the answer are
    one token, ``vocab + answer − 2`` (a marked copy of the answer)."""
    import torch

    x = torch.randint(2, vocab, (n, seq_len), generator=generator)
    where = torch.randint(0, seq_len - 2, (n,), generator=generator)  # trigger, then answer
    rows = torch.arange(n)
    answer = x[rows, where + 1].clone()
    if hops == 1:
        x[rows, where] = vocab + answer - 2
    else:
        x[rows, where] = 1
    x[:, -1] = 1
    y = torch.full_like(x, -100)
    y[:, -1] = answer
    return x, y


@register_task
class Induction(Task):
    name = "induction"
    description = "induction head: recall the token after the trigger (per-token, last one)"
    options = (
        TaskOption("seq_len", "int", 256, "tokens per sequence", minimum=4),
        TaskOption("vocab", "int", 16, "token ids: the trigger and vocab − 2 content tokens",
                   minimum=4, maximum=65536),
        TaskOption("hops", "int", 2, "2: an induction head (find the trigger, read the token "
                   "after it); 1: selective retrieval (the answer is marked where it stands)",
                   choices=(1, 2)),
        TaskOption("train_examples", "int", 20000, "training sequences", minimum=1),
        TaskOption("val_examples", "int", 1000, "held-out sequences", minimum=1),
    )
    input_kind, output_kind = "tokens", "token"

    def seq_len(self, opts: dict[str, Any]) -> int:
        return opts["seq_len"]

    def vocab(self, opts: dict[str, Any]) -> int:
        """Token ids: with one hop, the marked copies of the content tokens come after."""
        return opts["vocab"] if opts["hops"] == 2 else 2 * opts["vocab"] - 2

    def classes(self, opts: dict[str, Any]) -> int:
        return opts["vocab"]  # the classifier reads out a content token id

    def chance(self, opts: dict[str, Any]) -> float:
        return 1.0 / (opts["vocab"] - 2)

    def data(self, opts: dict[str, Any], seed: int) -> TaskData:
        import torch

        shape = (opts["seq_len"], opts["vocab"])
        train = induction_batch(opts["train_examples"], *shape,
                                torch.Generator().manual_seed(1000 + seed), opts["hops"])
        val = induction_batch(opts["val_examples"], *shape,
                              torch.Generator().manual_seed(7), opts["hops"])  # fixed
        return TaskData(*train, *val)
