"""Fixtures for the data tests: small datasets in the real on-disk formats."""

import pytest

from robustkit.data import synthetic


@pytest.fixture(scope="session")
def clean_tree(tmp_path_factory) -> synthetic.SyntheticTree:
    """A tree without corrupt files, with 32x32 images (the loader resizes them to 64x64)."""
    root = str(tmp_path_factory.mktemp("clean") / "tiny-imagenet-200")
    return synthetic.write_tiny_imagenet(
        root, num_classes=3, images_per_class=4, val_per_class=2, test_images=2, size=32,
        grayscale=["train/n00000001/images/n00000001_0.JPEG"], seed=5,
    )
