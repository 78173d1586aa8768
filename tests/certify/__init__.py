"""Tests of python -m robustkit.certify and the smoothing noise of training."""
