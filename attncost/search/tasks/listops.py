"""``listops``: ListOps, generated offline (Nangia & Bowman 2018, arXiv 1804.06028; the Long
Range Arena's long version, Tay et al. 2021, arXiv 2011.04006, Section 3.1).

Nested lists of operators over the digits 0–9 — ``[MAX 2 9 [MIN 4 7 ] 0 ]`` is 9 — and the
model must output the value (10 classes). Operators: MAX, MIN, MED (the median, rounded down
to an integer as ``int(np.median(...))``) and SM (the sum modulo 10). The generator follows
LRA's (``lra_benchmarks/data/listops.py``, read for its distribution; this is our own code):
a node at depth d < ``max_depth`` is an operator with probability 0.25, else a digit; an
operator takes 2 … ``max_args`` arguments; the root is at depth 1, so at most
``max_depth − 1`` operators nest. Trees outside [``min_length``, ``max_length``] tokens are
drawn again (LRA: 500–2,000 tokens, max_depth 10, max_args 10). Tokens, as LRA feeds its
models (parentheses removed): an operator, a digit, or ``]``; padded with 0 to
``max_length``.

**What is known.** LRA reports 36.37 % test accuracy for a vanilla Transformer at up to 2K
tokens (Tay et al. 2021, Table 1; the best model 37.27 %, Reformer; Linformer 35.70 %, Linear
Transformer 16.13 %, Performer 18.01 %); the majority class is ~17 % there. Short ListOps is
easier: Nangia & Bowman report ~74 % for an LSTM on their original set (sequences ≤ ~100
tokens). What attncost's training reaches here is stated in ``search/listops.toml``.

The held-out set is drawn with a fixed seed (the same for every training seed), and the
training set never holds one of its sequences (short trees repeat).
"""

from __future__ import annotations

import random
from typing import Any

from . import register_task
from .base import Task, TaskData
from .options import TaskOption, TaskOptionError

OPERATORS = ("MAX", "MIN", "MED", "SM")
CLOSE = "]"
#: token ids: 0 pads, digits 1–10, operators 11–14, "]" 15
VOCAB = {**{str(d): d + 1 for d in range(10)},
         **{op: 11 + i for i, op in enumerate(OPERATORS)}, CLOSE: 15}
VALUE_P = 0.25  # LRA: a node below max_depth is an operator with this probability


def generate_tree(rng: random.Random, depth: int, max_depth: int, max_args: int,
                  operator: bool = False) -> Any:
    """A random tree: a digit (int) or ``(operator, [children])`` (LRA's distribution);
    ``operator``: this node is an operator (what rejecting trees shorter than 2 tokens
    leaves of the root, drawn directly)."""
    if depth < max_depth and (operator or rng.random() < VALUE_P):
        u = rng.random  # uniform draws, scaled (3× faster than randint/choice)
        n = 2 + int(u() * (max_args - 1))
        op = OPERATORS[int(u() * len(OPERATORS))]
        return op, [generate_tree(rng, depth + 1, max_depth, max_args) for _ in range(n)]
    return int(rng.random() * 10)


def tree_value(tree: Any) -> int:
    """The value of a tree (recursively)."""
    if isinstance(tree, int):
        return tree
    op, args = tree
    vals = sorted(tree_value(a) for a in args)
    if op == "MAX":
        return vals[-1]
    if op == "MIN":
        return vals[0]
    if op == "SM":
        return sum(vals) % 10
    mid = len(vals) // 2  # MED: int(np.median(...)), the mean of the middle two rounded down
    return vals[mid] if len(vals) % 2 else (vals[mid - 1] + vals[mid]) // 2


def tree_tokens(tree: Any) -> list[str]:
    """The tree as LRA's tokens: ``[OP`` is written ``OP``; digits; ``]`` closes."""
    if isinstance(tree, int):
        return [str(tree)]
    op, args = tree
    out = [op]
    for a in args:
        out += tree_tokens(a)
    return out + [CLOSE]


def sample(n: int, rng: random.Random, min_length: int, max_length: int, max_depth: int,
           max_args: int, avoid: set | None = None, max_tries: int = 200) -> tuple[list, list]:
    """``n`` (tokens, value) examples with lengths in [min_length, max_length], none in
    ``avoid`` (tuples of tokens)."""
    seqs: list[list[str]] = []
    values: list[int] = []
    tries = 0
    while len(seqs) < n:
        tree = generate_tree(rng, 1, max_depth, max_args, operator=min_length > 1)
        toks = tree_tokens(tree)
        tries += 1
        if tries > max_tries * max(n, 1):
            raise TaskOptionError(f"[task] min_length = {min_length} … max_length = "
                                  f"{max_length}: too few trees of max_depth {max_depth} and "
                                  f"max_args {max_args} have that length; widen the range")
        if not min_length <= len(toks) <= max_length or (avoid and tuple(toks) in avoid):
            continue
        seqs.append(toks)
        values.append(tree_value(tree))
    return seqs, values


def encode(seqs: list[list[str]], length: int) -> Any:
    """Token ids, padded with 0 to ``length``."""
    import torch

    x = torch.zeros(len(seqs), length, dtype=torch.long)
    for i, s in enumerate(seqs):
        x[i, :len(s)] = torch.tensor([VOCAB[t] for t in s])
    return x


@register_task
class ListOps(Task):
    name = "listops"
    description = "ListOps (LRA): nested MAX/MIN/MED/SUM-MOD lists of digits, 10 classes"
    options = (
        TaskOption("min_length", "int", 16, "fewest tokens of a sequence", minimum=1),
        TaskOption("max_length", "int", 64, "most tokens (the sequence length; LRA: 2,000)",
                   minimum=3),
        TaskOption("max_depth", "int", 4, "the root is at depth 1; operators only above "
                   "max_depth (LRA: 10)", minimum=2),
        TaskOption("max_args", "int", 5, "most arguments of an operator (LRA: 10)", minimum=2),
        TaskOption("train_examples", "int", 20000, "training sequences", minimum=1),
        TaskOption("val_examples", "int", 1000, "held-out sequences", minimum=1),
    )
    input_kind, output_kind, pooling = "tokens", "sequence", "mean"

    def check(self, opts: dict[str, Any]) -> None:
        if opts["min_length"] > opts["max_length"]:
            raise TaskOptionError(f"[task] min_length = {opts['min_length']} is invalid: must "
                                  f"be ≤ max_length = {opts['max_length']}")

    def seq_len(self, opts: dict[str, Any]) -> int:
        return opts["max_length"]

    def classes(self, opts: dict[str, Any]) -> int:
        return 10

    def vocab(self, opts: dict[str, Any]) -> int:
        return len(VOCAB) + 1

    def data(self, opts: dict[str, Any], seed: int) -> TaskData:
        import torch

        shape = (opts["min_length"], opts["max_length"], opts["max_depth"], opts["max_args"])
        va, y_va = sample(opts["val_examples"], random.Random(7), *shape)  # fixed
        tr, y_tr = sample(opts["train_examples"], random.Random(1000 + seed), *shape,
                          avoid={tuple(s) for s in va})  # never a held-out sequence
        return TaskData(encode(tr, opts["max_length"]), torch.tensor(y_tr),
                        encode(va, opts["max_length"]), torch.tensor(y_va))
