"""Learned perturbation sets: a VAE and a CVAE written with TensorFlow Probability.

Front doors (imported from their modules; importing this package loads nothing):

- `robustkit.generative.config`: the ``task: vae | cvae`` config schema (`GenerativeJob`).
- `robustkit.generative.loop.run_generative`: train, measure, draw and export (``python -m robustkit.train``).
- `robustkit.generative.perturbation`: sample from a learned perturbation set and find a classifier's
  worst case inside it (`worst_case_images`, `random_perturbation`, `load_perturbation_set`).
- `robustkit.generative.export`: the SavedModel signatures other services call.
"""
