"""Writes an explanation run's outputs: uncertainty.json, the figures and report.html (all atomically).

uncertainty.json is the record of what was measured (uncertainty_per_image.npz
holds the per-image values behind it): per model the MC-dropout
metrics on clean and on each attack's inputs (accuracy, NLL, ECE, Brier score,
the confidence of "Visualizing Impact of Uncertainty and Adversarial Attack on Deep Classifier Models",
entropy, mutual information, per class), the AUROC of
telling clean from adversarial inputs by mutual information, the good and bad
images, and which layers and checks the maps used; with the number of
examples, the seed, the versions and the command.
"""

import html
import io
import json
import os
from typing import Any, Dict, Optional

import numpy as np

from robustkit import html_page, outputs, versions
from robustkit.explain import metrics, plots, uncertainty_plots
from robustkit.explain.runner import ModelResults, Results

FIGURES = ("saliency.png", "saliency_adversarial.png", "activations.png", "confidence_per_class.png",
           "accuracy_per_class.png", "confidence_vs_accuracy.png", "mutual_information.png", "good_bad.png")

GUIDED_NOTE = ("Guided backpropagation fails the model-parameter randomisation test of Adebayo et al. (2018), "
               "\"Sanity Checks for Saliency Maps\": its maps barely change when the weights are randomised. "
               "Read it as an edge map of the input, not as evidence of what the model uses.")


def _uncertainty(res: ModelResults, results: Results, bins: int) -> Dict[str, Any]:
    labels, names = results.labels, results.class_names
    record: Dict[str, Any] = {}
    if "clean" not in res.mc:
        return {"skipped": "no usable Keras layers, so dropout cannot be switched on"}
    clean = res.mc["clean"]
    record["clean"] = metrics.summary(clean.mean, clean.variance, clean.mutual_information, labels, names, bins)
    record["adversarial"] = {}
    for label, mc in res.mc.items():
        if label == "clean":
            continue
        run = res.attacks[label]
        n = len(run.images)
        y = labels[:n]
        entry = metrics.summary(mc.mean, mc.variance, mc.mutual_information, y, names, bins)
        clean_correct = np.argmax(res.probs[:n], axis=-1) == y
        flipped = clean_correct & (run.predicted != y)
        entry.update({
            "attack": run.description, "epsilon": run.epsilon,
            "deterministic_accuracy": float(np.mean(run.predicted == y)),
            "attack_success_rate": float(flipped.sum() / max(clean_correct.sum(), 1)),
            "auroc_mutual_information": metrics.auroc(clean.mutual_information[:n], mc.mutual_information),
            "auroc_entropy": metrics.auroc(clean.predictive_entropy[:n], mc.predictive_entropy),
            "auroc_mutual_information_successful": metrics.auroc(
                clean.mutual_information[:n][clean_correct], mc.mutual_information[flipped]),
            "successful_examples": int(flipped.sum()),
        })
        record["adversarial"][label] = entry
    return record


def _robustness(res: ModelResults, results: Results) -> Optional[Dict[str, Any]]:
    rob = res.robustness
    if rob is None:
        return None

    def row(i: int) -> Dict[str, Any]:
        flip = None if np.isinf(rob.flip[i]) else float(rob.flip[i])
        return {"index": i, "label": int(results.labels[i]),
                "name": plots.class_name(results.class_names, int(results.labels[i])),
                "flip_epsilon": flip, "clean_margin": float(rob.margin[i])}

    finite = rob.flip[(rob.flip > 0) & np.isfinite(rob.flip)]
    return {"attack": results.robustness_attack, "examples": int(len(rob.flip)), "epsilons": rob.epsilons,
            "accuracy": rob.accuracy, "never_flipped": int(np.isinf(rob.flip).sum()),
            "median_flip_epsilon_of_flipped": float(np.median(finite)) if finite.size else None,
            "good": [row(i) for i in rob.good], "bad": [row(i) for i in rob.bad]}


def record(results: Results, seed: int, samples: int, bins: int, command: str) -> Dict[str, Any]:
    """The uncertainty.json record."""
    models = {}
    for name, res in results.models.items():
        n = len(results.labels)
        models[name] = {
            "label": res.model.label, "path": res.model.path, "notes": res.model.notes + res.model.loaded.notes,
            "dropout_rates": res.model.dropout_rates, "keras_layers": res.model.keras_model is not None,
            "deterministic": {"examples": n, "accuracy": metrics.accuracy(res.probs, results.labels),
                              "nll": metrics.nll(res.probs, results.labels),
                              "ece": metrics.ece(res.probs, results.labels, bins),
                              "brier": metrics.brier(res.probs, results.labels)},
            **_uncertainty(res, results, bins),
            "saliency": {"rows": results.rows, "gradcam_layer": res.gradcam_layer,
                         "integrated_gradients_completeness_error": res.ig_completeness},
            "activations": {"example": results.activation_example, "layers": list(res.activations)},
            "robustness": _robustness(res, results),
        }
    return {"examples": len(results.labels), "seed": seed, "data": results.data, "mc_samples": samples,
            "ece_bins": bins, "models": models,
            "methods": {label: e.describe() for label, e in results.methods.items()},
            "attacks": results.attacks, "versions": versions.library_versions(), "command": command}


html_table = html_page.table


_KEYS = ("examples", "accuracy", "deterministic_accuracy", "nll", "ece", "brier", "mean_confidence",
         "mean_predictive_entropy", "mean_mutual_information", "auroc_mutual_information", "auroc_entropy",
         "auroc_mutual_information_successful")


def _fine(key: str, value: Any) -> Any:
    """Confidence and mutual information vary in the fourth decimal and below: six decimals for them."""
    if isinstance(value, float) and key in ("mean_confidence", "mean_mutual_information"):
        return f"{value:.6f}"
    return value


def html_text(rec: Dict[str, Any], written: Dict[str, str], results: Results) -> str:
    """report.html: every figure and table in one page."""
    e = html.escape
    models = rec["models"]
    parts = [f"<h1>Explanations: {e(', '.join(models))}</h1>",
             f"<p>{rec['examples']} examples of {e(str(rec['data']['name']))}:{e(str(rec['data']['split']))}, "
             f"images {e(str(rec['data']['image_shape']))}, seed {rec['seed']}, {rec['mc_samples']} MC samples.</p>",
             "<h2>Models</h2>",
             html_table(["model", "path", "dropout rates", "layers", "accuracy (dropout off)", "notes"], [
                 [m, r["path"], r["dropout_rates"] or "none", r["keras_layers"], r["deterministic"]["accuracy"],
                  "; ".join(r["notes"])] for m, r in models.items()])]

    def figure(name: str, title: str, caption: str = "") -> None:
        if name in written:
            parts.append(f"<h2>{e(title)}</h2>{caption}<img src=\"{name}\" alt=\"{e(title)}\">")

    def completeness(value: Optional[float]) -> str:
        return "-" if value is None else f"{value:.1%}"

    methods = [[label, desc] for label, desc in rec["methods"].items()]
    layer_notes = "".join(
        f"<li>{e(m)}: Grad-CAM layer {e(str(r['saliency']['gradcam_layer']))}; Integrated Gradients attributions "
        f"miss f(x) - f(baseline) by up to {completeness(r['saliency']['integrated_gradients_completeness_error'])}"
        "</li>" for m, r in models.items())
    figure("saliency.png", "Saliency (clean)", html_table(["map", "method"], methods) + f"<ul>{layer_notes}</ul>"
           + (f"<p><b>Note.</b> {e(GUIDED_NOTE)}</p>" if "guided_backprop" in str(rec["methods"]) else ""))
    figure("saliency_adversarial.png", f"Saliency (adversarial: {results.saliency_attack})")
    figure("activations.png", "Activation maps")
    parts.append(
        "<h2>Uncertainty (MC dropout)</h2><p>Every image is run through the model "
        f"{rec['mc_samples']} times with its dropout layers on and BatchNorm in inference mode (Gal and "
        "Ghahramani, 2016). <i>accuracy</i>, NLL, ECE and Brier score are those of the mean softmax; "
        "<i>confidence</i> is that of &quot;Visualizing Impact of Uncertainty and Adversarial Attack on Deep "
        "Classifier Models&quot;: one minus the variance over the samples of the label's probability; "
        "<i>mutual information</i> is the predictive entropy minus the mean entropy of the samples (the part of "
        "the uncertainty due to the weights). Adversarial inputs are made against the model with dropout off; "
        "<i>auroc_mutual_information</i> is the AUROC of telling them from the same clean examples by mutual "
        "information (0.5: no better than chance), <i>_successful</i> only those that fooled the model against "
        "the correctly classified clean ones.</p>")
    for m, r in models.items():
        if "clean" not in r:
            parts.append(f"<p>{e(m)}: {e(r.get('skipped', 'skipped'))}</p>")
            continue
        clean = {**r["clean"], "deterministic_accuracy": r["deterministic"]["accuracy"]}
        rows = [[label] + [_fine(k, a.get(k)) for k in _KEYS]
                for label, a in [("clean", clean), *r["adversarial"].items()]]
        parts.append(f"<h3>{e(r['label'])}</h3>" + html_table(["inputs", *_KEYS], rows))
        per_class = [[c["name"], c["examples"], _fine("mean_confidence", c["confidence"]), c["accuracy"],
                      c["mean_label_probability"], _fine("mean_mutual_information", c["mean_mutual_information"])]
                     for c in r["clean"]["per_class"]]
        parts.append(html_table(["class", "examples", "confidence", "accuracy", "mean label probability",
                                 "mean mutual information"], per_class))
    if "uncertainty_per_image.npz" in written:
        parts.append("<p>Per-image values: <a href=\"uncertainty_per_image.npz\">uncertainty_per_image.npz</a> "
                     "(keys <code>model/inputs/measure</code>).</p>")
    for name, title in (("confidence_per_class.png", "Confidence per class"),
                        ("accuracy_per_class.png", "Accuracy per class"),
                        ("confidence_vs_accuracy.png", "Confidence against accuracy"),
                        ("mutual_information.png", "Mutual information, clean and adversarial")):
        figure(name, title)
    figure("good_bad.png", "Good and bad images", html_table(
        ["model", "epsilons", "accuracy at each", "never flipped", "median flipping epsilon"],
        [[m, r["robustness"]["epsilons"], [round(a, 3) for a in r["robustness"]["accuracy"]],
          r["robustness"]["never_flipped"], r["robustness"]["median_flip_epsilon_of_flipped"]]
         for m, r in models.items() if r["robustness"]]))
    parts.append("<h2>Attacks</h2><pre>" + e(json.dumps(rec["attacks"], indent=2)) + "</pre>")
    parts.append("<h2>Versions</h2><pre>" + e(json.dumps(rec["versions"], indent=2)) + "</pre>")
    parts.append(f"<p>Command: <code>{e(rec['command'])}</code></p>")
    return html_page.page("robustkit explanations", parts)


def per_image_arrays(results: Results) -> bytes:
    """uncertainty_per_image.npz: per model and input kind, each image's MC-dropout measures.

    Keys are ``<model>/<inputs>/<measure>`` with measures ``mean`` and
    ``variance`` ([N, K]), ``predictive_entropy``, ``mutual_information`` and
    ``label`` ([N]); ``<inputs>`` is ``clean`` or an attack label.
    """
    arrays: Dict[str, np.ndarray] = {}
    for name, res in results.models.items():
        for kind, mc in res.mc.items():
            prefix = f"{name}/{kind}/"
            arrays.update({prefix + "mean": mc.mean.astype(np.float32), prefix + "variance": mc.variance,
                           prefix + "predictive_entropy": mc.predictive_entropy,
                           prefix + "mutual_information": mc.mutual_information,
                           prefix + "label": results.labels[:len(mc.mean)]})
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def write_all(results: Results, out_dir: str, seed: int, samples: int, bins: int, channels: int,
              command: str) -> Dict[str, str]:
    """Writes every output into ``out_dir``; returns file name -> path of what was written."""
    os.makedirs(out_dir, exist_ok=True)
    path = {name: os.path.join(out_dir, name) for name in (*FIGURES, "uncertainty.json", "report.html")}
    rec = record(results, seed, samples, bins, command)
    outputs.write_json(path["uncertainty.json"], rec)
    if any(res.mc for res in results.models.values()):
        path["uncertainty_per_image.npz"] = os.path.join(out_dir, "uncertainty_per_image.npz")
        outputs.write_bytes(path["uncertainty_per_image.npz"], per_image_arrays(results))
    drawn = {
        "saliency.png": plots.saliency_figure(results, path["saliency.png"], adversarial=False,
                                              top=results.saliency_top_k),
        "saliency_adversarial.png": results.saliency_attack is not None and plots.saliency_figure(
            results, path["saliency_adversarial.png"], adversarial=True, top=results.saliency_top_k),
        "activations.png": plots.activations_figure(results, path["activations.png"], channels),
        "good_bad.png": uncertainty_plots.good_bad_figure(results, path["good_bad.png"]),
    }
    measured = {m: r for m, r in rec["models"].items() if "clean" in r}
    for key, name, label in (("confidence", "confidence_per_class.png", "confidence (1 - MC variance)"),
                             ("accuracy", "accuracy_per_class.png", "accuracy")):
        drawn[name] = bool(measured)
        if measured:
            uncertainty_plots.per_class_figure(measured, results.class_names, key, path[name], label)
    drawn["confidence_vs_accuracy.png"] = drawn["mutual_information.png"] = bool(measured)
    if measured:
        uncertainty_plots.confidence_vs_accuracy_figure(measured, path["confidence_vs_accuracy.png"])
        mi = {m: {kind: mc.mutual_information for kind, mc in results.models[m].mc.items()} for m in measured}
        uncertainty_plots.mutual_information_figure(measured, mi, path["mutual_information.png"])
    written = {name: p for name, p in path.items() if drawn.get(name, True)}
    outputs.write_text(path["report.html"], html_text(rec, written, results))
    return written
