"""A metric added in one place: the FLOPs of one training step (forward + backward).

Registering it is all it takes for it to reach the JSON and CSV outputs, the estimate
table, sweeps (exact vectorised formulas), ``plot curves --metric`` and, as a headline
metric, ``compare``'s columns and ratios.
"""

from attncost.metrics import metric


@metric("flops_step", unit="FLOP", label="FLOPs per training step", short="FLOPs/step",
        quantity="training-step FLOPs", headline=True)
def flops_step(f):
    """Forward + backward FLOPs (recomputation included)."""
    return f.metric("flops_fwd") + f.metric("flops_bwd")
