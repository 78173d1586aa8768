"""The RobustBench-style record of each model: ``<out>/robustbench/<model name>.json``.

Modelled on the JSON entries of RobustBench (Croce et al., 2021, "RobustBench:
a standardized adversarial robustness benchmark"): what was measured, on how
many examples, with which threat model, version and libraries. The top-level
``autoattack_acc``, ``eps``, ``threat_model`` and ``version`` are those of the
first AutoAttack evaluation (null when the run had none); ``evaluations`` lists
every AutoAttack block and epsilon with its per-stage robust accuracies.
"""

import os
from typing import Any, Dict

from robustkit import outputs, versions
from robustkit.evaluation.scoring import Results

THREAT_MODELS = {"linf": "Linf", "l2": "L2"}


def record(results: Results, model: str, seed: int, command: str) -> Dict[str, Any]:
    """The record of ``model``."""
    evaluations = []
    for entry in results.autoattack.get(model, []):
        evaluations.append({
            "attack": entry["attack"], "version": entry["version"], "threat_model": THREAT_MODELS[entry["norm"]],
            "eps": entry["epsilon"], "n_examples": entry["examples"], "clean_acc": entry["clean_accuracy"],
            "autoattack_acc": entry["robust_accuracy"],
            "stage_accuracies": {s["stage"]: s["accuracy"] for s in entry["stages"]},
            "stage_seconds": {s["stage"]: round(s["seconds"], 3) for s in entry["stages"]},
        })
    first = evaluations[0] if evaluations else {}
    return {
        "name": model,
        "model_path": results.models_info.get(model, {}).get("path"),
        "dataset": results.data.get("name"),
        "split": results.data.get("split"),
        "image_shape": results.data.get("image_shape"),
        "threat_model": first.get("threat_model"),
        "eps": first.get("eps"),
        "n_examples": first.get("n_examples", results.num_examples),
        "clean_acc": results.clean_accuracy(model),
        "autoattack_acc": first.get("autoattack_acc"),
        "version": first.get("version"),
        "stage_accuracies": first.get("stage_accuracies"),
        "evaluations": evaluations,
        "seed": seed,
        "library_versions": versions.library_versions(),
        "command": command,
    }


def write_records(results: Results, out_dir: str, seed: int, command: str) -> Dict[str, str]:
    """Writes one record per model; returns model -> path."""
    folder = os.path.join(out_dir, "robustbench")
    os.makedirs(folder, exist_ok=True)
    paths = {}
    for model in results.models:
        paths[model] = os.path.join(folder, f"{model}.json")
        outputs.write_json(paths[model], record(results, model, seed, command))
    return paths
