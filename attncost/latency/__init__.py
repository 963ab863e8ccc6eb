"""Latency you can trust: a kernel-level predictor per device.

* :mod:`~attncost.latency.kernels` — the kernel kinds a graph's operations become (torch-free).
* :mod:`~attncost.latency.profile` — ``attncost profile``: time them on this machine.
* :mod:`~attncost.latency.predictor` — per-kind regressors fitted on a profile; a graph's
  latency as the sum over its operations plus a per-operation dispatch cost.
"""
