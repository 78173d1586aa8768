"""Feature-level test generation: tests within r of seed inputs keep the seeds' labels (r-separation).

- `robustkit.testgen.generate`: seeds, draws within r (latent or pixel space), the re-encoding check.
- `robustkit.testgen.sampling`: uniform and truncated-Gaussian draws in L2 and L-inf balls.
- `robustkit.testgen.scoring`: the classifier under test and the oracle.
- `robustkit.testgen.runner`: the ``python -m robustkit.testgen`` job.

Importing this package imports no TensorFlow; its modules do.
"""
