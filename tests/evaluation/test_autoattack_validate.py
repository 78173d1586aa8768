"""``validate_adv`` with an ``autoattack`` block: CSV rows, per-stage accuracies, the RobustBench record."""

import csv
import json

import tensorflow as tf
import tf_keras as keras
import yaml

from robustkit import validate_adv
from robustkit.training.export import export_model
from tests.attacks import tiny
from tests.helpers import write_learnable_idx

STAGES = ["apgd-ce", "apgd-t", "fab-t", "square"]


def test_validate_adv_runs_the_cascade_and_writes_the_robustbench_record(tmp_path, capsys):
    data = write_learnable_idx(tmp_path / "data", train=256, test=32)
    x, y = tiny.images(256, seed=0)
    for name, epochs in (("a", 2), ("b", 1)):
        model = tiny.cnn(classes=10, seed=len(name))
        model.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
        export_model(model, str(tmp_path / "models" / name), [f"c{i}" for i in range(10)],
                     tf.distribute.get_strategy())
    config = {
        "run": {"name": "aa", "seed": 3},
        "data": {"name": "mnist", "dir": data, "eval_limit": 24},
        "batch_size": 16,
        "attacks": {"autoattack": {"epsilons": [0.0, 0.3], "iterations": 25, "square_queries": 30,
                                   "n_target_classes": 3},
                    "pgd": {"epsilons": [0.3], "iterations": 3}},
        "sanity": {"examples": 8, "large_epsilon_iterations": 5},
        "report": {"examples": 2},
    }
    path = tmp_path / "aa.yaml"
    path.write_text("# python -m robustkit.validate_adv --config aa.yaml\n" + yaml.safe_dump(config))
    out = tmp_path / "out"
    models = ["--model", f"a={tmp_path / 'models' / 'a'}", "--model", f"b={tmp_path / 'models' / 'b'}"]
    assert validate_adv.main(["--config", str(path), *models, "--out", str(out)]) == 0
    assert "autoattack standard (autoattack) on a at epsilon 0.3: clean" in capsys.readouterr().out

    with open(out / "robust_accuracy.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["attack"] == "autoattack"]
    assert sorted((r["model"], float(r["epsilon"])) for r in rows) == [("a", 0.0), ("a", 0.3), ("b", 0.0), ("b", 0.3)]
    metrics = json.loads((out / "metrics.json").read_text())
    names = {c["name"] for c in metrics["sanity"]["checks"]}
    assert {"deterministic_forward_pass", "square_no_stronger_than_white_box", "outputs_are_logits",
            "dlr_gradients_finite_and_nonzero", "enough_classes_for_autoattack"} <= names
    for model in ("a", "b"):
        record = json.loads((out / "robustbench" / f"{model}.json").read_text())
        assert {"name", "dataset", "threat_model", "eps", "n_examples", "clean_acc", "autoattack_acc", "version",
                "stage_accuracies", "evaluations", "library_versions", "command"} <= set(record)
        assert record["threat_model"] == "Linf" and record["version"] == "standard" and record["n_examples"] == 24
        assert record["library_versions"]["tensorflow"] and record["command"].startswith("python -m robustkit")
        at_03 = [e for e in record["evaluations"] if e["eps"] == 0.3][0]
        accuracies = [at_03["stage_accuracies"][s] for s in STAGES]
        assert list(at_03["stage_accuracies"]) == STAGES
        assert accuracies == sorted(accuracies, reverse=True) and accuracies[0] <= at_03["clean_acc"]
        csv_row = [r for r in rows if r["model"] == model and float(r["epsilon"]) == 0.3][0]
        assert float(csv_row["accuracy"]) == at_03["autoattack_acc"] == accuracies[-1]
        pgd = [r for r in metrics["models"][model]["attacks"]["pgd"]][0]["accuracy"]
        assert at_03["autoattack_acc"] <= pgd  # The cascade starts with a stronger PGD.
        assert metrics["models"][model]["autoattack"][1]["stages"][0]["stage"] == "apgd-ce"
    assert "AutoAttack, stage by stage" in (out / "report.html").read_text()
