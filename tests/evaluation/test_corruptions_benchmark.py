"""The corruption benchmark of ``validate_adv``: mCE arithmetic, the CLI outputs, the cache, the held-out split."""

import csv
import json
import os

import numpy as np
import pytest
import tf_keras as keras
import yaml

from robustkit import config as config_lib
from robustkit import validate_adv
from robustkit.data import corruptions, synthetic
from robustkit.data.options import CORRUPTION_NAMES
from robustkit.data.pairs import CorruptedConfig, dealt_corruptions, load_pairs
from robustkit.evaluation.config import ValidateJob
from robustkit.evaluation.corruption import summarize
from robustkit.training.export import export_model
from tests.attacks import tiny
from tests.helpers import ROOT, learnable_images, write_learnable_idx

NAMES = ["identity", "fog", "stripe", "rotate", "canny_edges"]  # Each costs the tiny models some accuracy.
BLOCKS = 1 + 2 + 1 + 2 + 1  # identity, fog 1 and 5, stripe, rotate 1 and 5, canny_edges


def _cnn(seed: int) -> keras.Model:
    """A small CNN of 28x28x1 images whose predictions change when its inputs are scaled (tanh saturates)."""
    keras.utils.set_random_seed(seed)
    image = keras.Input(shape=(28, 28, 1), name="image")
    x = keras.layers.Conv2D(8, 3, activation="tanh")(image)
    x = keras.layers.MaxPooling2D(4)(keras.layers.Dense(8, activation="tanh")(x))
    return keras.Model(image, keras.layers.Dense(10, name="logits")(keras.layers.Flatten()(x)))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import tensorflow as tf

    root = tmp_path_factory.mktemp("corruptions")
    data = write_learnable_idx(root / "data", train=16, test=40)
    images, labels = learnable_images(40, seed=1)
    labels[::3] = (labels[::3] + 1) % 4  # Wrong labels, so that the clean accuracy is not 1.
    synthetic.write_idx(data, images, labels, prefix="t10k")
    x, y = tiny.images(256, seed=0)
    for name, seed in (("a", 0), ("b", 1)):
        model = _cnn(seed)
        model.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x, y, epochs=1, batch_size=32, verbose=0)
        export_model(model, str(root / "models" / name), [f"c{i}" for i in range(10)], tf.distribute.get_strategy())
    config = {
        "run": {"name": "c", "dir": str(root / "unused"), "seed": 1},
        "data": {"name": "mnist", "dir": data, "eval_limit": 40},
        "batch_size": 16,
        "attacks": {"noise": {"epsilons": [0.1]}},
        "sanity": {"examples": 8, "large_epsilon_iterations": 2},
        "report": {"examples": 2},
        "corruptions": {"names": NAMES, "severities": [1, 5], "baseline": "b", "cache_dir": str(root / "cache"),
                        "workers": 1, "groups": {"seen": ["fog", "stripe", "rotate"],
                                                 "held_out": ["canny_edges"]}},
    }
    path = root / "c.yaml"
    path.write_text("# python -m robustkit.validate_adv --config c.yaml\n" + yaml.safe_dump(config))
    return root, str(path)


def _models(root):
    return ["--model", f"a={root / 'models' / 'a'}", "--model", f"b={root / 'models' / 'b'}"]


@pytest.fixture(scope="module")
def first_run(setup):
    root, config = setup
    out = root / "out"
    assert validate_adv.main(["--config", config, *_models(root), "--out", str(out)]) == 0
    with open(out / "corruption_accuracy.csv") as f:
        rows = list(csv.DictReader(f))
    return out, rows, json.loads((out / "metrics.json").read_text())


def test_the_cli_writes_the_csv_metrics_heatmap_and_report(first_run, capsys):
    out, rows, metrics = first_run
    assert {"model", "corruption", "severity", "accuracy"} <= set(rows[0])
    assert len(rows) == 2 * BLOCKS
    assert {(r["corruption"], r["severity"]) for r in rows} == {
        ("identity", ""), ("fog", "1"), ("fog", "5"), ("stripe", ""), ("rotate", "1"), ("rotate", "5"),
        ("canny_edges", "")}
    for model in ("a", "b"):
        record = metrics["models"][model]
        assert isinstance(record["mce"], float) and record["mce"] > 0
        assert set(record["corruptions"]["groups"]) == {"seen", "held_out"}
        assert record["corruptions"]["groups"]["held_out"]["corruptions"] == ["canny_edges"]
    assert metrics["corruptions"]["baseline"] == "b" and metrics["corruptions"]["blocks"] == BLOCKS
    assert (out / "corruption_heatmap.png").stat().st_size > 0
    page = (out / "report.html").read_text()
    assert "<h2>Corruptions (7 blocks of 40 examples" in page and 'src="corruption_heatmap.png"' in page


def test_identity_gives_the_clean_accuracy(first_run):
    _, rows, metrics = first_run
    for model in ("a", "b"):
        assert 0.5 < metrics["models"][model]["clean_accuracy"] < 0.9
        identity = [r for r in rows if r["model"] == model and r["corruption"] == "identity"]
        assert float(identity[0]["accuracy"]) == metrics["models"][model]["clean_accuracy"]
        assert metrics["models"][model]["corruptions"]["clean_accuracy"] == metrics["models"][model]["clean_accuracy"]
    # The corrupted blocks are really corrupted: some accuracy differs from the clean one.
    assert any(float(r["accuracy"]) != metrics["models"][r["model"]]["clean_accuracy"] for r in rows)


def test_the_mce_of_the_baseline_against_itself_is_one(first_run):
    _, _, metrics = first_run
    baseline = metrics["models"]["b"]
    assert baseline["mce"] == pytest.approx(1.0, abs=1e-12)
    assert baseline["corruptions"]["relative_mce"] == pytest.approx(1.0, abs=1e-12)
    assert all(v == pytest.approx(1.0) for v in baseline["corruptions"]["ce"].values())
    assert baseline["corruptions"]["groups"]["seen"]["mce"] == pytest.approx(1.0, abs=1e-12)
    assert metrics["models"]["a"]["mce"] != pytest.approx(1.0, abs=1e-6)


def test_mce_known_answer():
    entries = [("identity", None), ("fog", 1), ("fog", 2), ("stripe", None)]
    s = summarize(entries, [0.9, 0.8, 0.6, 0.7], 0.9, [0.95, 0.9, 0.7, 0.5], 0.95)
    assert s["ce"] == pytest.approx({"fog": 0.6 / 0.4, "stripe": 0.3 / 0.5})
    assert s["mce"] == pytest.approx((1.5 + 0.6) / 2)
    assert s["relative_ce"] == pytest.approx({"fog": 0.4 / 0.3, "stripe": 0.2 / 0.45})
    assert s["mean_corruption_accuracy"] == pytest.approx(0.7)
    assert summarize(entries, [0.9, 0.8, 0.6, 0.7], 0.9, [0.9, 0.8, 0.6, 0.7], 0.9)["mce"] == pytest.approx(1.0)


def test_a_second_run_reads_the_cached_set_and_scores_the_same(setup, first_run, capsys):
    root, config = setup
    out2 = root / "out2"
    assert validate_adv.main(["--config", config, *_models(root), "--out", str(out2)]) == 0
    printed = capsys.readouterr().out
    assert "corruptions: 7 blocks of 40 examples (cache), baseline b" in printed
    assert "a model accuracy:" in printed and "corruptions held_out: a: mean accuracy" in printed
    metrics = json.loads((out2 / "metrics.json").read_text())
    assert metrics["corruptions"]["source"] == "cache" and first_run[2]["corruptions"]["source"] == "built"
    assert (out2 / "corruption_accuracy.csv").read_text() == (first_run[0] / "corruption_accuracy.csv").read_text()


def test_a_baseline_that_is_no_model_fails_before_any_attack(setup, tmp_path, capsys):
    root, config = setup
    code = validate_adv.main(["--config", config, *_models(root), "--out", str(tmp_path / "o"),
                              "--set", "corruptions.baseline=plain"])
    assert code == 2
    assert "corruptions.baseline = 'plain' is not one of the --model names: a, b" in capsys.readouterr().err
    assert not (tmp_path / "o" / "metrics.json").exists()


def test_bad_corruption_keys_name_the_key_and_value():
    with pytest.raises(config_lib.ConfigError, match=r"corruptions.names\[1\] = 'fogg' is not a corruption"):
        config_lib.parse(ValidateJob, {"corruptions": {"names": ["identity", "fogg"]}})
    with pytest.raises(config_lib.ConfigError, match=r"corruptions.severities = \[0, 6\] must be"):
        config_lib.parse(ValidateJob, {"corruptions": {"severities": [0, 6]}})
    with pytest.raises(config_lib.ConfigError, match=r"corruptions.groups.held_out = \['zigzag'\] must list"):
        config_lib.parse(ValidateJob, {"corruptions": {"names": ["fog"], "groups": {"held_out": ["zigzag"]}}})


def _shipped(name):
    return config_lib.read_config(os.path.join(ROOT, "configs", name))


def test_the_held_out_corruptions_are_disjoint_from_the_training_ones(tmp_path):
    trained = _shipped("cvae_fashion_mnist_corrupted_train12.yaml")["data"]["corruptions"]
    groups = _shipped("validate_corruptions_fashion_mnist.yaml")["corruptions"]["groups"]
    augmented = _shipped("fashion_mnist_small_cnn_corruption_augment.yaml")["data"]["augment"]["corruptions"]
    assert len(trained) == 12 and set(groups["seen"]) == set(trained) == set(augmented)
    assert len(groups["held_out"]) == 3 and not set(groups["held_out"]) & set(trained)
    assert set(trained) | set(groups["held_out"]) == set(CORRUPTION_NAMES) - {"identity"}
    # The pairs the CVAE learns from are of the 12 kinds only, each pair x' = corruption(x) of its kind.
    data = write_learnable_idx(tmp_path, train=36, test=12)
    options = CorruptedConfig(dataset="mnist", dir=data, corruptions=trained, splits="dataset")
    train = load_pairs(options)["train"]
    kinds = dealt_corruptions(options, 36 + 12)[:36]
    assert {trained[k] for k in kinds} == set(trained)
    for i, k in enumerate(kinds):
        expected = corruptions.corrupt(train.clean[i:i + 1], trained[k], seed=0, indices=[i])
        np.testing.assert_array_equal(train.corrupted[i:i + 1], expected, err_msg=trained[k])
