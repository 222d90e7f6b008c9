"""Shared fixtures. float64 is a scoped opt-in (``x64`` fixture), never global."""

import jax
import pytest


@pytest.fixture
def x64():
    """Run the test body with 64-bit floats enabled, restoring the default afterwards."""
    with jax.enable_x64(True):
        yield
