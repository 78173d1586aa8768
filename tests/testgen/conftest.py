"""Fixtures of the test-generation tests."""

import pytest

from tests.separation import tiny


@pytest.fixture(scope="session")
def vae_path(tmp_path_factory):
    """A tiny VAE export, made once per test session (shared with tests/separation)."""
    return tiny.vae_export(str(tmp_path_factory.getbasetemp() / "tiny-vae"))
