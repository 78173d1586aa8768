"""``python -m robustkit.testgen`` end to end on tiny data, a tiny VAE and tiny classifiers."""

import glob
import json
import os

import numpy as np
import pytest

from robustkit import config as config_lib
from robustkit.separation.latent import VAECodec
from robustkit.data.examples import load_arrays
from robustkit.testgen import __main__ as testgen_cli
from robustkit.testgen.config import TestgenJob as Job
from tests.helpers import ROOT
from tests.separation import tiny


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("classifiers")
    return tiny.classifier_file(str(root / "a.keras"), seed=0), tiny.classifier_file(str(root / "b.keras"), seed=1)


def _brute_force_other_label(queries, query_labels, refs, ref_labels, norm):
    """Each query's distance to the nearest reference of another label, one query at a time."""
    refs = refs.reshape(len(refs), -1).astype(np.float64)
    out = []
    for q, label in zip(queries.reshape(len(queries), -1).astype(np.float64), query_labels):
        diff = refs[ref_labels != label] - q
        out.append(np.sqrt((diff ** 2).sum(1)).min() if norm == "l2" else np.abs(diff).max(1).min())
    return np.array(out)


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
    # Each test lies within its own seed's r: half that seed's latent distance to the nearest
    # training code of another label, recomputed here by brute force.
    job = config_lib.load(Job, str(out / "config.yaml"))
    train_x, train_y, _ = load_arrays(job.data, job.data.train_split, job.data.train_limit)
    eval_x, eval_y, _ = load_arrays(job.data, job.data.eval_split, job.data.eval_limit)
    codec = VAECodec(vae_path, 256)
    seeds = tests["seed_indices"]
    own_r = _brute_force_other_label(codec.encode(eval_x[seeds])[0], eval_y[seeds], codec.encode(train_x)[0],
                                     train_y, "l2") / 2.0
    assert np.all(tests["latent_distances"] < own_r)
    assert metrics["radius"]["per_seed"]["min"] <= own_r.min() + 1e-6
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
    job = config_lib.load(Job, str(tmp_path / "out" / "config.yaml"))
    train_x, train_y, _ = load_arrays(job.data, job.data.train_split, job.data.train_limit)
    train_x = train_x.reshape(len(train_x), -1).astype(np.float64) / 255.0
    assert r == pytest.approx(_brute_force_other_label(train_x, train_y, train_x, train_y, "linf").min() / 2.0)
    assert r > 0 and metrics["oracle"] is None and metrics["model"]["seed_accuracy"]["accuracy"] == 1.0
    assert np.all(tests["pixel_distances"] < r) and len(tests["labels"]) == metrics["generation"]["accepted"]


def test_two_logical_cpus_give_the_same_tests_and_predictions(tmp_path, models):
    outputs = {}
    for name, strategy in (("one", ["--set", "distribute.strategy=default"]),
                           ("two", ["--set", "distribute.strategy=mirrored",
                                    "--set", 'distribute.devices=["/cpu:0","/cpu:1"]'])):
        args = _args(tmp_path, models[0], "--set", "space=pixel", "--set", "radius.mode=global",
                     "--set", f"oracle={models[1]}", "--set", "batch_size=7", *strategy)
        args[args.index("--out") + 1] = str(tmp_path / name)
        assert testgen_cli.main(args) == 0
        outputs[name] = np.load(tmp_path / name / "tests.npz")
    one, two = outputs["one"], outputs["two"]
    assert len(one["labels"]) > 7  # more than one prediction batch, so both replicas worked
    for key in ("images", "labels", "predictions", "oracle_predictions"):
        np.testing.assert_array_equal(one[key], two[key])


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
