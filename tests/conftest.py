import os

import pytest

EXAMPLE = os.path.join(os.path.dirname(__file__), "examples", "custom_variant.py")


@pytest.fixture(scope="session")
def example_variant_file():
    return EXAMPLE
