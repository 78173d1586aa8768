"""``python -m robustkit.certify`` end to end on tiny data and a tiny classifier."""

import csv
import glob
import json
import os

import numpy as np
import pytest
import tf_keras as keras

from robustkit import config as config_lib
from robustkit.certify import __main__ as certify_cli
from robustkit.certify import bounds
from robustkit.certify.config import CertifyJob
from robustkit.generative import export
from robustkit.generative.config import MODELS, FcCVAEConfig
from tests.helpers import ROOT
from tests.separation import tiny

CONFIG = os.path.join(ROOT, "configs", "certify_fashion_mnist.yaml")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny.classifier_file(str(tmp_path_factory.mktemp("classifier") / "c.keras"))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return tiny.idx_data(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def cvae_root(tmp_path_factory):
    """An untrained fully-connected CVAE of 28x28x1 images, exported: a fixed random set."""
    keras.utils.set_random_seed(5)
    cvae = MODELS.build(FcCVAEConfig(latent_dim=2, hidden=[16], likelihood="continuous_bernoulli"))
    x = np.zeros((2, 28, 28, 1), np.float32)
    cvae({"image": x, "perturbed": x})
    root = tmp_path_factory.mktemp("cvae") / "set"
    export.export_generative(cvae, str(root), {"task": "cvae", "latent_dim": 2, "coverage": {"1": 0.5}})
    return str(root)


def _args(out, model, data, *extra):
    return ["--config", CONFIG, "--model", f"tiny={model}", "--set", "data.name=mnist", "--set", f"data.dir={data}",
            "--set", "data.eval_limit=9", "--set", "certify.n0=20", "--set", "certify.n=300",
            "--set", "certify.predict_n=100", "--set", "certify.batch_size=128", "--set", "certify.sigmas=[0.25, 1.0]",
            "--set", "sanity.examples=3", "--set", "sanity.steps=3", "--set", "sanity.samples=4",
            "--set", "sanity.predict_n=100", "--out", str(out), *extra]


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_pixel_run_writes_every_output(tmp_path, model, data, capsys):
    out = tmp_path / "out"
    assert certify_cli.main(_args(out, model, data)) == 0
    for name in ("certify.csv", "metrics.json", "certified_accuracy.png", "report.html", "config.yaml"):
        assert (out / name).is_file(), name
    rows = _rows(out / "certify.csv")
    assert list(rows[0])[:6] == ["index", "label", "prediction", "radius", "correct", "seconds"]
    assert len(rows) == 18 and {r["sigma"] for r in rows} == {"0.25", "1"}
    for r in rows:
        assert (int(r["prediction"]) == bounds.ABSTAIN) == (float(r["radius"]) == 0.0)
        assert int(r["correct"]) == int(int(r["prediction"]) == int(r["label"]))
        if int(r["prediction"]) != bounds.ABSTAIN:
            assert float(r["radius"]) == pytest.approx(float(r["sigma"]) * bounds.stats.norm.ppf(float(r["p_lower"])),
                                                       rel=1e-4)
    metrics = json.loads((out / "metrics.json").read_text())
    assert [(r["space"], r["sigma"]) for r in metrics["runs"]] == [("pixel", 0.25), ("pixel", 1.0)]
    for run in metrics["runs"]:
        mine = [r for r in rows if float(r["sigma"]) == run["sigma"]]
        for radius, accuracy in run["certified_accuracy"].items():
            assert accuracy == pytest.approx(np.mean([int(r["correct"]) == 1 and float(r["radius"]) >= float(radius)
                                                      for r in mine]))
        assert run["smoothed_clean_accuracy"] == pytest.approx(np.mean([r["predict"] == r["label"] for r in mine]))
    # The small CNN is accurate under sigma 0.25, so something is certified and attacked, and nothing breaks.
    assert metrics["runs"][0]["certified_accuracy"]["0"] > 0.5
    attack = metrics["runs"][0]["checks"]["attack"]
    assert attack["attacked"] == 3 and attack["passed"]
    assert metrics["all_checks_passed"] and {c["check"] for c in metrics["checks"]} == {"attack", "agreement"}
    assert "<h1>" in (out / "report.html").read_text() and (out / "certified_accuracy.png").stat().st_size > 1000
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"report: {out}/report.html"


def test_latent_run_certifies_over_the_set_and_reports_its_coverage(tmp_path, model, data, cvae_root):
    out = tmp_path / "out"
    assert certify_cli.main(_args(out, model, data, "--set", "certify.sigmas=[]", "--set",
                                  f"latent.path={cvae_root}", "--set", "latent.sigmas=[0.5]",
                                  "--set", "sanity.control_scale=0")) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert [(r["space"], r["sigma"]) for r in metrics["runs"]] == [("latent", 0.5)]
    assert metrics["latent"]["latent_dim"] == 2 and metrics["latent"]["coverage"] == {"1": 0.5}
    assert set(metrics["runs"][0]["certified_accuracy"]) == {"0", "0.5", "1", "1.5", "2", "3"}
    assert {r["space"] for r in _rows(out / "certify.csv")} == {"latent"}


@pytest.mark.parametrize("extra,message", [
    (["--set", "certify.alpha=2"], "certify.alpha = 2.0 must lie in (0, 1)"),
    (["--set", "certify.nn=5"], "key 'certify.nn' is not a known key; did you mean 'certify.n'?"),
    (["--set", "certify.sigmas=[0.25, -1]"], "certify.sigmas = [0.25, -1.0] must be distinct positive"),
    (["--set", "certify.sigmas=[]"], "nothing to certify"),
    (["--set", "certify.n=ten"], "key 'certify.n' has value 'ten'; expected an integer"),
    (["--set", "latent.path=/nonexistent/set"], "perturbation set path '/nonexistent/set' does not exist"),
])
def test_bad_input_is_one_paragraph_and_exit_2(tmp_path, model, data, capsys, extra, message):
    assert certify_cli.main(_args(tmp_path / "out", model, data, *extra)) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("error: ") and "Traceback" not in err
    assert not (tmp_path / "out" / "certify.csv").exists()


def test_a_missing_model_is_exit_2(tmp_path, data, capsys):
    assert certify_cli.main(_args(tmp_path / "out", str(tmp_path / "missing"), data)) == 2
    assert "error: " in capsys.readouterr().err


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(ROOT, "configs", "certify_*.yaml"))),
                         ids=os.path.basename)
def test_shipped_configs_parse(path):
    job = config_lib.load(CertifyJob, path)
    assert job.certify.n0 == 100 and job.certify.alpha == 0.001 and job.data.eval_limit == 500
    assert open(path).readline().startswith(f"# python -m robustkit.certify --config configs/{os.path.basename(path)}")
