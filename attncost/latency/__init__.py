"""Latency you can trust: a kernel-level predictor per device.

* :mod:`~attncost.latency.kernels` — the kernel kinds a graph's operations become (torch-free).
* :mod:`~attncost.latency.bench` — those kernels built in PyTorch, and the grid of shapes;
  :mod:`~attncost.latency.reference` — reference layers and tiny models: the in-situ
  factors and the framework's overhead per kernel kind, block and call.
* :mod:`~attncost.latency.profile` — ``attncost profile``: time them on this machine into a
  device profile file (resumable; usable on any machine).
* :mod:`~attncost.latency.predictor` — per-kind regressors fitted on a profile; a graph's
  latency as the sum over its operations (in-situ factors) plus the overheads.
* :mod:`~attncost.latency.measure` — a module or whole model timed in torch eager (the
  search's measured latency) and a model's predicted latency;
  :mod:`~attncost.latency.onnx` — the same timed in ONNX Runtime.
* :mod:`~attncost.latency.judge` — ``attncost validate-latency``: the predictor on held-out
  configurations beside the 6-constant model and the roofline, measured in one run.
"""
