"""Certified robustness by randomized smoothing (Cohen, Rosenfeld & Kolter, 2019), in pixel or latent space.

- `robustkit.certify.bounds`: Clopper-Pearson bounds, CERTIFY's and PREDICT's
  decisions from class counts, certified accuracy (no TensorFlow).
- `robustkit.certify.smoothing`: class counts of a classifier on noisy copies
  of each example, compiled and spread over a strategy's replicas; noise on the
  pixels or on a learned perturbation set's latent code (Wong & Kolter, 2020);
  PGD on the smoothed classifier.
- `robustkit.certify.sanity`: the attack that must fail inside every
  certificate, and PREDICT against CERTIFY.
- `robustkit.certify.runner`: the ``python -m robustkit.certify`` job.

Importing this package imports no TensorFlow; its modules (but `bounds` and `config`) do.
"""
