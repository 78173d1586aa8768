"""Classifier training: configs, adversarial methods, learned sets, phases, callbacks and export.

The modules are imported by name (``robustkit.training.loop``, ``.config``,
...); importing this package itself starts no TensorFlow.
"""
