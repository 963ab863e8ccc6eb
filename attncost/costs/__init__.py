"""Operations → metrics: exact integers, sympy formulas and vectorised numpy functions.

* :mod:`~attncost.costs.walk` — :class:`GraphFacts`: one linear walk over a graph (gradients,
  parameters, per-op FLOPs and bytes, saved tensors); :class:`Precision`, :class:`OpCost`.
* :mod:`~attncost.costs.liveness` — inference and training peaks, linear in the ops.
* :mod:`~attncost.costs.derive` — :func:`derive`: every metric of :data:`attncost.metrics.METRICS`.
* :mod:`~attncost.costs.formulas` — sympy formulas and :class:`IntFunction` (exact numpy).

The walk is generic over the number type: over a graph built from ints it gives exact Python
ints, over one built from sympy symbols the formulas.
"""

from .derive import Derived, Peak, derive, resolve_peak
from .formulas import (IntFunction, Prepared, formulas, numeric_function, prepare,
                       prune_dominated, symbols)
from .walk import GraphFacts, OpCost, Precision

__all__ = ["Derived", "GraphFacts", "IntFunction", "OpCost", "Peak", "Precision", "Prepared",
           "derive", "formulas", "numeric_function", "prepare", "prune_dominated",
           "resolve_peak", "symbols"]
