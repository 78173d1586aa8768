"""robustkit: train and test image classifiers that hold up under perturbations."""

from robustkit import tf_setup

tf_setup.configure()

__version__ = "0.1.0"
