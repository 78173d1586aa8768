"""``python -m robustkit.train`` with ``task: vae`` and ``task: cvae`` end to end on tiny IDX data."""

import csv
import glob
import json
import os

import pytest
import yaml

from robustkit import train
from robustkit.config import ConfigError
from tests import helpers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIGS = ["vae_mnist_corrupted", "cvae_mnist_corrupted", "cvae_rotation_1d", "vae_fashion_mnist",
           "cvae_fashion_mnist_corrupted", "cvae_rotation_1d_fashion_mnist", "cvae_fashion_mnist_corrupted_train12"]


@pytest.mark.parametrize("name", CONFIGS)
def test_shipped_generative_configs_parse(name):
    path = os.path.join(ROOT, "configs", f"{name}.yaml")
    assert open(path).readline().strip() == f"# python -m robustkit.train --config configs/{name}.yaml"
    job, _ = train.load_job(path, [])
    assert job.task == name.split("_")[0] and job.export.name == name and job.run.name == name


def test_every_generative_config_is_listed():
    found = {os.path.basename(p)[:-5] for p in glob.glob(os.path.join(ROOT, "configs", "*.yaml"))
             if yaml.safe_load(open(p)).get("task") in ("vae", "cvae")}
    assert found == set(CONFIGS)


def test_task_chooses_the_default_model_and_the_schema():
    job, _ = train.load_job(None, ["task=cvae"])
    assert job.model.name == "fc_cvae" and job.data.name == "corrupted"
    job, _ = train.load_job(None, ["task=vae", "model.latent_dim=3"])
    assert job.model.name == "conv_vae" and job.model.latent_dim == 3


@pytest.mark.parametrize("overrides, message", [
    (["task=gan"], r"key 'task' has value 'gan'; expected one of 'classifier', 'vae', 'cvae'"),
    (["task=vae", "model.name=fc_cvae"], "model.name = 'fc_cvae' is a CVAE but task = 'vae'"),
    (["task=cvae", "regulariser.enabled=true"], "regulariser.enabled needs task = cvae and data.name = rotation"),
    (["task=cvae", "train.beta=-1"], r"train.beta = -1.0 must be >= 0"),
    (["task=cvae", "data.name=rotation", "data.theta_mx=3"], "did you mean 'data.theta_max'"),
])
def test_config_errors(overrides, message):
    with pytest.raises(ConfigError, match=message):
        train.load_job(None, overrides)


def test_cli_error_exit(capsys):
    assert train.main(["--set", "task=gan", "--print-config"]) == 2
    assert "expected one of 'classifier', 'vae', 'cvae'" in capsys.readouterr().err


def _config(tmp_path, data_dir, task, **sections):
    config = {
        "task": task,
        "run": {"name": task, "dir": str(tmp_path / f"run_{task}"), "seed": 1},
        "train": {"epochs": 2, "batch_size": 16, "progress": False},
        "evaluation": {"examples": 12, "radii": [0.5, 2.0], "pgd_steps": 2, "traversal_examples": 2, "samples": 8},
        "export": {"dir": str(tmp_path / "exports")},
    }
    for key, value in sections.items():
        config.setdefault(key, {}).update(value)
    path = tmp_path / f"{task}.yaml"
    path.write_text(f"# python -m robustkit.train --config {task}.yaml\n" + yaml.safe_dump(config))
    return str(path)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return helpers.write_learnable_idx(tmp_path_factory.mktemp("idx"), train=64, test=32)


FIGURES = {"loss_curves.png", "latent_traversal.png", "samples.png", "reconstructions.png"}


@pytest.mark.slow
def test_vae_run_writes_metrics_figures_and_export(tmp_path, data_dir, capsys):
    config = _config(tmp_path, data_dir, "vae", data={"name": "corrupted", "dataset": "mnist", "dir": data_dir,
                                                      "corruption": "identity", "splits": "dataset"},
                     model={"latent_dim": 2, "filters": 4})
    assert train.main(["--config", config]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"exported: {tmp_path / 'exports' / 'vae' / '1'}"
    run = tmp_path / "run_vae"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["task"] == "vae" and metrics["train_examples"] == 64 and metrics["test_examples"] == 32
    for split in ("train", "test"):
        terms = metrics[split]
        assert terms["neg_elbo"] == pytest.approx(terms["reconstruction"] + terms["kl"], rel=1e-4)
        assert terms["neg_elbo"] > 0 and terms["kl"] >= 0
    assert FIGURES <= set(os.listdir(run)) and (run / "config.yaml").is_file()
    assert [r["epoch"] for r in csv.DictReader(open(run / "history.csv"))] == ["0", "1"]


class _Crash(Exception):
    pass


@pytest.mark.slow
def test_cvae_rotation_run_measures_the_set_and_resumes(tmp_path, data_dir, capsys, monkeypatch):
    import tf_keras as keras

    from robustkit.generative import loop

    class CrashAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                raise _Crash("killed")

    make = loop._callbacks
    monkeypatch.setattr(loop, "_callbacks", lambda *a: make(*a) + [CrashAfterFirstEpoch()])
    config = _config(tmp_path, data_dir, "cvae", data={"name": "rotation", "dataset": "mnist", "dir": data_dir,
                                                       "splits": "dataset"},
                     model={"latent_dim": 1, "hidden": [16]}, regulariser={"enabled": True, "weight": 0.5})
    with pytest.raises(_Crash):
        train.main(["--config", config])
    assert not (tmp_path / "exports").exists(), "nothing is exported before training ends"
    monkeypatch.setattr(loop, "_callbacks", make)
    assert train.main(["--config", config]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"exported: {tmp_path / 'exports' / 'cvae' / '1'}"
    run = tmp_path / "run_cvae"
    assert [r["epoch"] for r in csv.DictReader(open(run / "history.csv"))] == ["0", "1"], "resumed at epoch 1"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["regulariser"] == 0.5 and metrics["test"]["regulariser"] >= 0
    quality = metrics["perturbation_set"]
    assert set(quality["coverage"]) == {"0.5", "2"} and quality["pairs_evaluated"] == 24
    assert quality["coverage"]["0.5"] <= quality["coverage"]["2"]
    assert set(quality["approximation_error"]) == {"0.5", "2"}
    assert {"reconstruction_mse", "chain_mse", "linear_mse"} <= set(metrics["closure"])
    assert 0 <= metrics["rotation"]["traversal_monotonic_share"] <= 1
    assert FIGURES <= set(os.listdir(run))
    description = json.load(open(tmp_path / "exports" / "cvae" / "1" / "assets" / "generative.json"))
    assert description["latent_dim"] == 1 and description["task"] == "cvae"


@pytest.mark.slow
def test_conv_cvae_trains_through_the_entry_point_and_its_export_perturbs(tmp_path, data_dir, capsys):
    import tensorflow as tf

    from robustkit.generative.perturbation import load_perturbation_set

    config = _config(tmp_path, data_dir, "cvae", data={"name": "corrupted", "dataset": "mnist", "dir": data_dir,
                                                       "corruption": "brightness", "splits": "dataset"},
                     model={"name": "conv_cvae", "latent_dim": 2, "filters": 4, "dense": 16},
                     train={"epochs": 1})
    assert train.main(["--config", config]) == 0
    export = tmp_path / "exports" / "cvae" / "1"
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"exported: {export}"
    description = json.load(open(export / "assets" / "generative.json"))
    assert description["model"]["name"] == "conv_cvae" and description["model"]["filters"] == 4
    metrics = json.loads((tmp_path / "run_cvae" / "metrics.json").read_text())
    assert metrics["test"]["loss"] == pytest.approx(metrics["test"]["reconstruction"] + metrics["test"]["kl"],
                                                    rel=1e-4), "beta 1: the loss is reconstruction + KL"
    pset = load_perturbation_set(str(export))
    x = tf.random.stateless_uniform([3, 28, 28, 1], seed=[0, 1])
    near, far = pset.perturb(x, tf.zeros([3, 2])), pset.perturb(x, tf.fill([3, 2], 3.0))
    assert near.shape == (3, 28, 28, 1) and float(tf.reduce_max(tf.abs(near - far))) > 1e-4
