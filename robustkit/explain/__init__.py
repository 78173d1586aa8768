"""Explanations: saliency maps, activation maps and MC-dropout uncertainty, for clean and adversarial inputs.

``python -m robustkit.explain`` (`robustkit.explain.__main__`) is the entry point;
`runner.explain(job, models)` measures everything and `report.write_all`
writes the figures, uncertainty.json and report.html. The parts stand alone:

- `saliency.EXPLAINERS`: attribution methods, ``method(model, images, targets) -> maps``;
- `activations.Activations`: outputs of chosen convolution layers;
- `uncertainty.McDropout`: T dropout samples per image, BatchNorm in inference mode;
- `metrics`: ECE, NLL, Brier score, entropy, mutual information, AUROC;
- `robustness.search`: the smallest epsilon that flips each example;
- `rewire`: the model copies all of these run on (shared weights, layers swapped).

Importing this package does not import TensorFlow; its modules do.
"""

from robustkit import callable_module

# ``robustkit.explain(models, config, ...)``: `robustkit.explain.front.explain`.
callable_module.make_callable(__name__, "robustkit.explain.front", "explain")
