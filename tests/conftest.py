import os

import pytest

EXAMPLE = os.path.join(os.path.dirname(__file__), "examples", "custom_variant.py")


@pytest.fixture(scope="session")
def example_variant_file():
    return EXAMPLE


@pytest.fixture(autouse=True)
def _registries_restored():
    """Variants, PyTorch modules, metrics and tasks a test registers (directly or through
    an example file) do not leak into the next test."""
    from attncost import metrics, nn, variants
    from attncost.search import tasks

    import importlib.util

    variants.names(), tasks.task_names()  # load the built-ins first
    if importlib.util.find_spec("torch") is not None:
        nn.module_names()
    saved = (dict(variants.REGISTRY), dict(nn._FACTORIES), dict(metrics.METRICS),
             dict(tasks.TASKS))
    yield
    for registry, before in zip((variants.REGISTRY, nn._FACTORIES, metrics.METRICS,
                                 tasks.TASKS), saved):
        if registry != before:
            registry.clear()
            registry.update(before)
