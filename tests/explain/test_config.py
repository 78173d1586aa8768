"""The explain config: defaults, shipped files, and the mistakes it refuses."""

import glob
import os

import pytest

from robustkit import config as config_lib
from robustkit.explain.config import ExplainJob, attack_epsilon
from tests.helpers import ROOT

SHIPPED = sorted(glob.glob(os.path.join(ROOT, "configs", "explain_*.yaml")))


def test_defaults():
    job = config_lib.load(ExplainJob, None)
    assert job.run.dir == os.path.join("runs", "explain")
    assert list(job.methods) == ["positive", "negative", "smoothgrad", "integrated_gradients", "gradcam",
                                 "guided_backprop"]
    assert job.methods["negative"].name == "vanilla" and job.methods["negative"].mode == "negative"
    assert job.uncertainty.samples == 50 and job.uncertainty.bins == 15
    assert job.saliency_attack() == "pgd" and job.uncertainty_attacks() == ["fgsm", "pgd", "lbfgs", "iaa"]
    assert [attack_epsilon(a) for a in job.attacks.values()] == [0.1, 0.1, None, None]
    assert job.robustness.epsilons() == [0.02, 0.05, 0.1, 0.2, 0.3]


@pytest.mark.parametrize("path", SHIPPED, ids=os.path.basename)
def test_shipped_configs_parse(path):
    job = config_lib.load(ExplainJob, path)
    assert open(path).readline().startswith(f"# python -m robustkit.explain --config configs/{os.path.basename(path)}")
    assert job.uncertainty.samples == 50 and job.robustness.epsilons()[0] == 0.005


def test_overrides_reach_methods_and_attacks():
    path = os.path.join(ROOT, "configs", "explain_quickstart.yaml")
    job = config_lib.load(ExplainJob, path, ["methods.guided_backprop=false", "methods.sg={name: smoothgrad, "
                                             "samples: 5}", "attacks.lbfgs=false", "saliency.attack=fgsm"])
    assert "guided_backprop" not in job.methods and job.methods["sg"].samples == 5
    assert list(job.attacks) == ["fgsm", "pgd", "iaa"] and job.saliency_attack() == "fgsm"


@pytest.mark.parametrize("overrides, pattern", [
    (["methods.smoothgrad.samples=0"], r"samples = 0 must be at least 1"),
    (["methods.vanilla={mode: sideways}"], r"methods\.vanilla\.mode' has value 'sideways'"),
    (["methods.gradcam.layers=conv1"], r"methods\.gradcam\.layers' is not a known key; did you mean "
                                       r"'methods\.gradcam\.layer'"),
    (["uncertainty.samples=1"], r"at least 2"),
    (["uncertainty.attacks=[cw]"], r"uncertainty\.attacks \['cw'\] are not among the attacks"),
    (["attacks.transfer={surrogate: base}"], r"transfer attacks need a surrogate model"),
    (["robustness.attack={name: pgd, epsilons: [0.0]}"], r"has no nonzero epsilons"),
    (["saliency.target=logit"], r"saliency\.target' has value 'logit'"),
    (["methods={}"], r"methods is empty"),
])
def test_bad_values_fail_with_the_key(overrides, pattern):
    with pytest.raises(config_lib.ConfigError, match=pattern):
        config_lib.load(ExplainJob, None, overrides)
