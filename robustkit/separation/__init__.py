"""r-separation (Yang et al., "A Closer Look at Accuracy vs. Robustness", 2020), measured exactly.

- `robustkit.separation.exact`: the front door, `nearest_other_label`: for
  every query, the exact distance to its nearest reference of another label,
  in L2 (`robustkit.separation.l2`) and L-inf (`robustkit.separation.linf`),
  computed in tiles (`robustkit.separation.tiling`) by TensorFlow kernels
  (`robustkit.separation.kernels`), with a proven float32 error bound
  (`robustkit.separation.bounds`).
- `robustkit.separation.summary`: minimum, percentiles and mean per class and
  overall, r = min / 2, the closest pairs.
- `robustkit.separation.latent`: a VAE export's encoder and decoder.
- `robustkit.separation.runner`: the ``python -m robustkit.separation`` job.

Importing this package imports no TensorFlow; its modules do.
"""
