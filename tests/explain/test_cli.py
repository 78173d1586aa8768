"""``python -m robustkit.explain`` end to end on tiny exported models, and the inputs it refuses."""

import json
import re

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
import yaml

from robustkit.explain import __main__ as explain_main
from robustkit.explain import plots
from robustkit.models.small_cnn import SmallCNNConfig, build
from robustkit.training.export import export_model
from tests.attacks import tiny
from tests.helpers import write_learnable_idx

FIGURES = ("saliency.png", "saliency_adversarial.png", "activations.png", "confidence_per_class.png",
           "accuracy_per_class.png", "confidence_vs_accuracy.png", "mutual_information.png", "good_bad.png")
CONFIG = {
    "run": {"name": "e", "seed": 1},
    "batch_size": 16,
    "methods": {"positive": {"name": "vanilla", "mode": "positive"},
                "negative": {"name": "vanilla", "mode": "negative"}, "smoothgrad": {"samples": 3},
                "integrated_gradients": {"steps": 8}, "gradcam": {}, "guided_backprop": {}},
    "saliency": {"examples": 2, "attack": "pgd", "top_k": 3},
    "activations": {"count": 2, "channels": 4, "example": 1},
    "attacks": {"fgsm": {"epsilons": [0.3]}, "pgd": {"epsilons": [0.3], "iterations": 2},
                "lbfgs": {"max_examples": 3, "search_steps": 1, "iterations": 3},
                "iaa": {"max_examples": 3, "max_iterations": 3}},
    "uncertainty": {"samples": 5},
    "robustness": {"attack": {"name": "fgsm", "epsilons": [0.1, 0.3]}, "examples": 2},
}


class _Plain(tf.Module):
    """A SavedModel without Keras layers (as Keras 3 ``export`` or a plain tf.Module writes)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32, name="image")])
    def serve(self, image):
        return {"logits": self.model(image, training=False)}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain")
    data = write_learnable_idx(root / "data", train=64, test=64)
    x, y = tiny.images(512, seed=0)
    for name, rate in (("a", 0.2), ("b", 0.3)):
        keras.utils.set_random_seed(0)
        model = build(SmallCNNConfig(dropout=rate), num_classes=10, channels=1)
        model.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x, y, epochs=1, batch_size=32, verbose=0)
        export_model(model, str(root / "models" / name), [f"c{i}" for i in range(10)], tf.distribute.get_strategy())
    plain = _Plain(model)
    tf.saved_model.save(plain, str(root / "plain"), signatures={"serve_float": plain.serve})
    path = root / "e.yaml"
    path.write_text("# python -m robustkit.explain --config e.yaml\n"
                    + yaml.safe_dump({**CONFIG, "data": {"name": "mnist", "dir": data, "eval_limit": 24}}))
    return root, str(path)


def _models(root):
    return ["--model", f"a={root / 'models' / 'a'}", "--model", f"b={root / 'models' / 'b' / '1'}"]


def test_explain_writes_every_output(setup, capsys, monkeypatch):
    root, config = setup
    out = root / "out"
    listed = []
    draw = plots.top_k
    monkeypatch.setattr(plots, "top_k", lambda ax, probs, names, label, k: listed.append(k) or draw(
        ax, probs, names, label, k))
    assert explain_main.main(["--config", config, *_models(root), "--out", str(out)]) == 0
    # saliency.top_k reaches both figures: 2 models x 2 rows, clean and adversarial.
    assert listed == [3] * 8
    assert capsys.readouterr().out.splitlines()[-1] == f"report: {out / 'report.html'}"
    for name in (*FIGURES, "uncertainty.json", "uncertainty_per_image.npz", "report.html", "config.yaml"):
        assert (out / name).stat().st_size > 0, name
    with np.load(out / "uncertainty_per_image.npz") as per_image:
        assert per_image["a/clean/mean"].shape == (24, 10) and per_image["b/lbfgs/mutual_information"].shape == (3,)
    record = json.loads((out / "uncertainty.json").read_text())
    assert record["examples"] == 24 and record["mc_samples"] == 5 and record["seed"] == 1
    assert record["versions"]["tensorflow"] and set(record["methods"]) == set(CONFIG["methods"])
    for name, rate in (("a", 0.2), ("b", 0.3)):
        model = record["models"][name]
        assert model["dropout_rates"] == [rate, rate] and model["label"] == f"{name} (dropout {rate:g})"
        assert model["keras_layers"] and model["deterministic"]["accuracy"] > 0.5
        clean = model["clean"]
        assert clean["examples"] == 24 and 0 <= clean["ece"] <= 1 and clean["nll"] >= 0
        assert sum(c["examples"] for c in clean["per_class"]) == 24
        assert all(0.75 <= c["confidence"] <= 1 for c in clean["per_class"])
        assert set(model["adversarial"]) == {"fgsm", "pgd", "lbfgs", "iaa"}
        assert model["adversarial"]["lbfgs"]["examples"] == 3 and model["adversarial"]["pgd"]["epsilon"] == 0.3
        auroc = model["adversarial"]["pgd"]["auroc_mutual_information"]
        assert auroc is not None and 0 <= auroc <= 1
        assert model["saliency"]["gradcam_layer"] == "conv2"
        assert isinstance(model["saliency"]["integrated_gradients_completeness_error"], float)
        assert model["activations"] == {"example": 1, "layers": ["conv1", "conv2"]}
        assert model["robustness"]["epsilons"] == [0.1, 0.3] and len(model["robustness"]["bad"]) == 2
    page = (out / "report.html").read_text()
    assert all(f'src="{name}"' in page for name in FIGURES) and "Sanity Checks for Saliency Maps" in page
    assert (out / "config.yaml").read_text().startswith("# resolved config; produced by: python -m robustkit.explain")


def test_a_model_without_layers_gets_the_gradient_maps_and_notes(setup):
    root, config = setup
    out = root / "plain_out"
    extra = ["--set", "attacks.lbfgs=false", "--set", "attacks.iaa=false"]
    assert explain_main.main(["--config", config, "--model", f"plain={root / 'plain'}", "--out", str(out), *extra]) == 0
    record = json.loads((out / "uncertainty.json").read_text())["models"]["plain"]
    assert not record["keras_layers"] and "no Keras layers" in " ".join(record["notes"])
    assert "dropout cannot be switched on" in record["skipped"] and record["robustness"]["examples"] == 24
    assert (out / "saliency.png").exists() and not (out / "activations.png").exists()
    assert "no Keras layers" in (out / "report.html").read_text()


@pytest.mark.parametrize("extra, pattern", [
    (["--set", "activations.layers=[nope]"],
     r"model a: model 'small_cnn' has no layer 'nope'; its convolution layers: conv1, conv2"),
    (["--set", "methods.gradcam.layer=dense"], r"no layer 'dense'"),
    (["--set", "saliency.indices=[500]"], r"saliency.indices: example 500 does not exist; there are 24 examples"),
    (["--set", "methods.gradcm={}"], r"methods\.gradcm\.name' has value 'gradcm'.*did you mean 'gradcam'"),
    (["--set", "robustness.attack={name: lbfgs}"], r"robustness.attack \(lbfgs\) has no nonzero epsilons"),
    (["--set", "saliency.attack=cw"], r"saliency.attack = 'cw' is not one of the attacks: fgsm, iaa, lbfgs, pgd"),
])
def test_bad_inputs_fail_before_any_work(setup, capsys, extra, pattern):
    root, config = setup
    out = root / "bad"
    assert explain_main.main(["--config", config, *_models(root), "--out", str(out), *extra]) == 2
    assert re.search(pattern, capsys.readouterr().err)
    assert not out.exists()


def test_no_model_fails_clearly(setup, capsys):
    _, config = setup
    assert explain_main.main(["--config", config]) == 2
    assert "no model given" in capsys.readouterr().err


def test_attacks_give_the_same_images_on_one_device_and_on_two_logical_cpus(setup):
    from robustkit import config as config_lib
    from robustkit.explain import runner
    from robustkit.explain.config import ExplainJob

    root, config = setup
    images = {}
    for name, strategy in (("one", {"strategy": "default"}), ("two", {"strategy": "mirrored",
                                                                      "devices": ["/cpu:0", "/cpu:1"]})):
        job = config_lib.load(ExplainJob, config, [f"run.dir={root / name}", "uncertainty.samples=2",
                                                   "attacks.pgd.random_start=true", "data.eval_limit=40"])
        job.distribute = config_lib.parse(type(job.distribute), strategy)
        results = runner.explain(job, {"a": str(root / "models" / "a")})
        images[name] = {label: run.images for label, run in results.models["a"].attacks.items()}
    assert images["one"].keys() == images["two"].keys() and images["one"]
    for label in images["one"]:
        np.testing.assert_array_equal(images["one"][label], images["two"][label])
    assert np.abs(images["one"]["pgd"] - results.images[:len(images["one"]["pgd"])]).max() > 0
