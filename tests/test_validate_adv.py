"""``python -m robustkit.validate_adv`` end to end on a tiny IDX dataset, and every bad input it refuses."""

import csv
import json
import os
import re

import pytest
import tensorflow as tf
import tf_keras as keras
import yaml

from robustkit import validate_adv
from robustkit.training.export import export_model
from tests.attacks import tiny
from tests.helpers import write_learnable_idx

ATTACKS = {
    "fgsm": {"epsilons": [0.0, 0.2, 0.45]},
    "pgd": {"epsilons": [0.0, 0.2, 0.45], "iterations": 3},
    "pgd_l2": {"name": "pgd", "norm": "l2", "epsilons": [2.0, 6.0], "iterations": 3},
    "fgm": {"epsilons": [2.0]},
    "least_likely": {"name": "fgsm", "targeted": "least_likely", "epsilons": [0.45]},
    "transfer": {"surrogate": "a", "epsilons": [0.2, 0.45], "iterations": 3},
    "noise": {"epsilons": [0.2, 0.45]},
    "nsl": {"epsilons": [0.2, 0.45]},
    "lbfgs": {"max_examples": 6, "search_steps": 2, "iterations": 5},
    "iaa": {"max_examples": 6, "max_iterations": 10},
}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("validate")
    data = write_learnable_idx(root / "data", train=512, test=64)
    x, y = tiny.images(512, seed=0)
    for name, seed in (("a", 0), ("b", 1)):
        model = tiny.cnn(classes=10, seed=seed)
        model.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x, y, epochs=2, batch_size=32, verbose=0)
        export_model(model, str(root / "models" / name), [f"c{i}" for i in range(10)], tf.distribute.get_strategy())
    attacks = {**ATTACKS, "from_path": {"name": "transfer", "surrogate": str(root / "models" / "b"),
                                        "epsilons": [0.45], "iterations": 2}}
    config = {
        "run": {"name": "v", "dir": str(root / "unused"), "seed": 1},
        "data": {"name": "mnist", "dir": data, "eval_limit": 48},
        "batch_size": 32,
        "attacks": attacks,
        "sanity": {"examples": 16, "large_epsilon_iterations": 10},
        "report": {"examples": 3},
    }
    path = root / "v.yaml"
    path.write_text("# python -m robustkit.validate_adv --config v.yaml\n" + yaml.safe_dump(config))
    return root, str(path)


def _models(root):
    return ["--model", f"a={root / 'models' / 'a'}", "--model", f"b={root / 'models' / 'b' / '1'}"]


def test_validation_writes_every_output_and_the_sanity_checks(setup, capsys):
    root, config = setup
    out = root / "out"
    assert validate_adv.main(["--config", config, *_models(root), "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[-1] == f"report: {out / 'report.html'}"
    assert any("a model accuracy:" in line and "b model accuracy:" in line for line in printed)
    for name in ("config.yaml", "metrics.json", "robust_accuracy.csv", "accuracy_vs_eps.png", "examples.png",
                 "report.html"):
        assert (out / name).stat().st_size > 0, name

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["examples"] == 48 and metrics["seed"] == 1 and metrics["versions"]["tensorflow"]
    assert set(metrics["attacks"]) == {*ATTACKS, "from_path"}
    assert metrics["attacks"]["pgd"]["parameters"]["iterations"] == 3
    assert metrics["attacks"]["lbfgs"]["examples"] == 6 and metrics["attacks"]["fgsm"]["examples"] == 48
    for model in ("a", "b"):
        record = metrics["models"][model]
        assert 0.8 < record["clean_accuracy"] <= 1.0 and record["path"].endswith(f"{model}/1")
        assert [r["epsilon"] for r in record["attacks"]["pgd"]] == [0.0, 0.2, 0.45]
        assert record["attacks"]["pgd"][0]["accuracy"] == record["clean_accuracy"]
        assert record["attacks"]["iaa"][0]["mean_perceptual_distance"] > 0
        assert record["attacks"]["least_likely"][0]["target_hit_rate"] is not None
        assert record["attacks"]["from_path"][0]["examples"] == 48  # Made on b loaded again from its path.
        assert {r["epsilon"] for r in record["worst_case"]["linf"]} == {0.0, 0.2, 0.45}
        assert set(record["worst_case"]) == {"linf", "l2"}
        worst = {r["epsilon"]: r["accuracy"] for r in record["worst_case"]["linf"]}
        assert worst[0.45] <= min(r["accuracy"] for r in record["attacks"]["pgd"] if r["epsilon"] == 0.45)
    # Transfer examples are made once, on the surrogate, and every model is scored on those same
    # images: their perturbations agree exactly, while a white-box attack's differ per model.
    a, b = metrics["models"]["a"]["attacks"], metrics["models"]["b"]["attacks"]
    for label in ("transfer", "from_path"):
        assert [(r["mean_linf"], r["mean_l2"]) for r in a[label]] == [(r["mean_linf"], r["mean_l2"]) for r in b[label]]
    assert a["pgd"][1]["mean_l2"] != b["pgd"][1]["mean_l2"]
    checks = metrics["sanity"]["checks"]
    # A quickstart-like pair of trained models passes every sanity check.
    assert len(checks) == 12 and metrics["sanity"]["passed"] == 12 and metrics["sanity"]["failed"] == 0
    assert all(c["passed"] for c in checks), [c["details"] for c in checks if not c["passed"]]
    assert {c["name"] for c in checks} == {
        "accuracy_never_rises_with_epsilon", "pgd_at_least_as_strong_as_fgsm",
        "white_box_at_least_as_strong_as_transfer", "white_box_at_least_as_strong_as_noise",
        "accuracy_near_zero_at_large_epsilon", "input_gradients_finite_and_nonzero"}

    with open(out / "robust_accuracy.csv") as f:
        rows = list(csv.DictReader(f))
    per_model = 1 + 3 + 3 + 2 + 1 + 1 + 2 + 2 + 2 + 1 + 1 + 1 + 3 + 2  # clean, attacks' epsilons, worst cases.
    assert len(rows) == 2 * per_model
    assert {r["attack"] for r in rows} >= {"clean", "worst_case_linf", "worst_case_l2", "transfer", "lbfgs"}
    page = (out / "report.html").read_text()
    assert "Sanity checks:" in page and 'src="examples.png"' in page and "accuracy_never_rises_with_epsilon" in page
    saved = (out / "config.yaml").read_text()
    assert saved.startswith("# resolved config; produced by: python -m robustkit.validate_adv --config")


def test_targeted_attacks_hit_their_targets_at_a_large_epsilon(setup, tmp_path):
    root, config = setup
    data = yaml.safe_load(open(config).read())
    data["attacks"] = {"least_likely": {"name": "pgd", "targeted": "least_likely", "epsilons": [0.0, 1.0],
                                        "iterations": 10},
                       "random_target": {"name": "pgd", "targeted": "random", "epsilons": [1.0], "iterations": 10}}
    data["data"]["eval_limit"] = 24
    path = tmp_path / "targeted.yaml"
    path.write_text("# python -m robustkit.validate_adv --config targeted.yaml\n" + yaml.safe_dump(data))
    # Untrained models: every class is reachable (the trained ones never saw classes 4 to 9,
    # which no input makes them predict, and those are the least likely ones).
    models = []
    for name, seed in (("a", 0), ("b", 1)):
        export_model(tiny.cnn(classes=10, seed=seed), str(tmp_path / name), [f"c{i}" for i in range(10)],
                     tf.distribute.get_strategy())
        models += ["--model", f"{name}={tmp_path / name}"]
    assert validate_adv.main(["--config", str(path), *models, "--out", str(tmp_path / "out")]) == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    for name in ("a", "b"):
        attacks = metrics["models"][name]["attacks"]
        clean, large = attacks["least_likely"]
        assert clean["target_hit_rate"] == 0.0, "a model never predicts its least likely class"
        assert large["target_hit_rate"] >= 0.9, large
        assert attacks["random_target"][0]["target_hit_rate"] >= 0.9, attacks["random_target"]


@pytest.mark.parametrize(
    "extra, pattern",
    [
        (["--set", "attacks.fgsn.epsilons=[0.1]"], r"attacks\.fgsn\.name' has value 'fgsn'.*did you mean 'fgsm'"),
        (["--set", "attacks.fgsm.epsilons=[0.1, 1.5]"], r"epsilon 1\.5 is outside \[0, 1\]"),
        (["--set", "attacks.pgd_l2.epsilons=[40.0]"], r"L2 epsilon 40\.0 exceeds sqrt\(H \* W \* C\) = 28\.00"),
        (["--set", "attacks.transfer.surrogate=c"], r"attacks\.transfer\.surrogate .*path 'c' does not exist"),
    ],
)
def test_bad_config_values_fail_before_any_work(setup, capsys, extra, pattern):
    root, config = setup
    out = root / "bad"
    assert validate_adv.main(["--config", config, *_models(root), "--out", str(out), *extra]) == 2
    assert re.search(pattern, capsys.readouterr().err)
    assert not out.exists()


def test_missing_models_and_models_that_do_not_fit_fail_clearly(setup, capsys, tmp_path):
    root, config = setup
    out = tmp_path / "out"
    assert validate_adv.main(["--config", config, "--model", f"a={tmp_path / 'nope'}", "--out", str(out)]) == 2
    assert "--model a path" in capsys.readouterr().err and not out.exists()
    assert validate_adv.main(["--config", config, "--out", str(out)]) == 2
    assert "no model given" in capsys.readouterr().err

    rgb = keras.Input((28, 28, 3), name="image")
    keras.Model(rgb, keras.layers.Dense(10)(keras.layers.Flatten()(rgb))).save(str(tmp_path / "rgb.h5"))
    models = ["--model", f"a={root / 'models' / 'a'}", "--model", f"rgb={tmp_path / 'rgb.h5'}"]
    assert validate_adv.main(["--config", config, *models, "--out", str(out)]) == 2
    assert "model rgb takes 3-channel images but test of the dataset has 1 channel(s)" in capsys.readouterr().err
    big = keras.Input((32, 32, 1), name="image")
    keras.Model(big, keras.layers.Dense(10)(keras.layers.Flatten()(big))).save(str(tmp_path / "big.h5"))
    models = ["--model", f"a={root / 'models' / 'a'}", "--model", f"big={tmp_path / 'big.h5'}"]
    assert validate_adv.main(["--config", config, *models, "--out", str(out)]) == 2
    assert "the models take different image sizes (a: 28x28, big: 32x32, surrogate " in capsys.readouterr().err
    assert not out.exists()


def test_print_config_needs_no_model(setup, capsys):
    _, config = setup
    assert validate_adv.main(["--config", config, "--print-config", "--out", "/tmp/x"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["run"]["dir"] == "/tmp/x" and printed["attacks"]["pgd_l2"]["name"] == "pgd"


def test_the_quickstart_config_names_the_command_that_runs_it():
    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "configs", "validate_quickstart.yaml")
    first = open(path).readline()
    assert first.startswith("# python -m robustkit.validate_adv --config configs/validate_quickstart.yaml --model")


def test_two_workers_shard_the_examples_and_the_chief_writes_what_one_device_writes(setup, tmp_path):
    from tests import cluster

    root, config = setup
    data = yaml.safe_load(open(config).read().split("\n", 1)[1])
    data["attacks"] = {"fgsm": ATTACKS["fgsm"], "pgd": {**ATTACKS["pgd"], "random_start": True},
                       "noise": ATTACKS["noise"]}
    data["batch_size"] = 12  # 48 examples: 4 batches, two per worker
    path = tmp_path / "mw.yaml"
    path.write_text("# python -m robustkit.validate_adv --config mw.yaml\n" + yaml.safe_dump(data))
    assert validate_adv.main(["--config", str(path), *_models(root), "--out", str(tmp_path / "one")]) == 0
    procs = cluster.start_pair(str(path), tmp_path, [*_models(root), "--out", str(tmp_path / "two")],
                               module="robustkit.validate_adv")
    results = cluster.wait_pair(procs, timeout=420)
    for code, out, err in results:
        assert code == 0, err[-3000:]
    assert results[0][1].strip().splitlines()[-1].startswith("report: ")
    assert results[1][1].strip().splitlines()[-1] == "results gathered; the chief worker writes them"
    one = (tmp_path / "one" / "robust_accuracy.csv").read_text()
    assert (tmp_path / "two" / "robust_accuracy.csv").read_text() == one
    rows = list(csv.DictReader(one.splitlines()))
    assert any(float(r["accuracy"]) < 1.0 for r in rows if r["attack"] == "pgd")
