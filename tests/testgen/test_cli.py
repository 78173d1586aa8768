"""``python -m robustkit.testgen`` end to end on tiny data, a tiny VAE and tiny classifiers."""

import glob
import json
import os

import numpy as np
import pytest

from robustkit import config as config_lib
from robustkit.testgen import __main__ as testgen_cli
from robustkit.testgen.config import TestgenJob as Job
from tests.helpers import ROOT
from tests.separation import tiny


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("classifiers")
    return tiny.classifier_file(str(root / "a.keras"), seed=0), tiny.classifier_file(str(root / "b.keras"), seed=1)


def _args(tmp_path, model, *extra):
    data = tiny.idx_data(tmp_path / "data")
    return ["--config", os.path.join(ROOT, "configs", "testgen_fashion_mnist.yaml"), "--model", model,
            "--set", "data.name=mnist", "--set", f"data.dir={data}", "--set", "seeds.count=2",
            "--set", "sampling.per_seed=3", "--set", "sampling.attempts=2", "--set", "grid_seeds=4",
            "--out", str(tmp_path / "out"), *extra]


def test_latent_run_writes_every_output(tmp_path, vae_path, models, capsys):
    args = _args(tmp_path, models[0], "--set", f"vae={vae_path}", "--set", f"oracle={models[1]}",
                 "--set", "radius.mode=local", "--set", "radius.scale=0.1", "--set", "sampling.attempts=4")
    assert testgen_cli.main(args) == 0
    out = tmp_path / "out"
    metrics = json.loads((out / "metrics.json").read_text())
    tests = np.load(out / "tests.npz")
    kept = metrics["generation"]["accepted"]
    assert kept == len(tests["labels"]) > 0 and metrics["generation"]["seeds_selected"] == 8
    assert set(tests.files) >= {"images", "labels", "seed_indices", "latent_distances", "predictions",
                                "oracle_predictions"}
    assert np.all(tests["latent_distances"] < metrics["radius"]["per_seed"]["max"])
    accuracy = np.mean(tests["predictions"] == tests["labels"])
    assert metrics["model"]["test_accuracy"]["accuracy"] == pytest.approx(accuracy)
    assert metrics["model"]["failures"] == len(metrics["failures"]) == int(np.sum(tests["predictions"]
                                                                                  != tests["labels"]))
    assert metrics["oracle"]["validity"]["accuracy"] == pytest.approx(np.mean(tests["oracle_predictions"]
                                                                              == tests["labels"]))
    assert (out / "grid.png").stat().st_size > 1000 and "<h1>" in (out / "report.html").read_text()
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("report: ")


def test_pixel_run_with_a_measured_global_r(tmp_path, models):
    args = _args(tmp_path, models[0], "--set", "space=pixel", "--set", "radius.mode=global", "--set",
                 "radius.norm=linf", "--set", "oracle=null",
                 "--set", "seeds.select=correct", "--set", "seeds.count=5")
    assert testgen_cli.main(args) == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    tests = np.load(tmp_path / "out" / "tests.npz")
    r = metrics["radius"]["r"]
    assert r > 0 and metrics["oracle"] is None and metrics["model"]["seed_accuracy"]["accuracy"] == 1.0
    assert np.all(tests["pixel_distances"] < r) and len(tests["labels"]) == metrics["generation"]["accepted"]


def test_user_errors_exit_2(tmp_path, models, capsys):
    assert testgen_cli.main(_args(tmp_path, models[0], "--set", "vae=null")) == 2
    assert "needs vae" in capsys.readouterr().err
    assert testgen_cli.main(_args(tmp_path, str(tmp_path / "missing"))) == 2
    assert testgen_cli.main(_args(tmp_path, models[0], "--set", "radius.scale=2")) == 2


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(ROOT, "configs", "testgen_*.yaml"))),
                         ids=os.path.basename)
def test_shipped_configs_parse(path):
    job = config_lib.load(Job, path)
    assert job.space in ("latent", "pixel")
    assert open(path).readline().startswith(f"# python -m robustkit.testgen --config configs/{os.path.basename(path)}")
