"""``python -m robustkit.separation`` end to end on tiny data, and its configs."""

import glob
import json
import os

import pytest

from robustkit import config as config_lib
from robustkit.separation import __main__ as separation_cli
from robustkit.separation.config import SeparationJob
from robustkit.separation.latent import LatentError, VAECodec
from tests.helpers import ROOT
from tests.separation import reference, tiny


def _args(tmp_path, *extra):
    data = tiny.idx_data(tmp_path / "data")
    return ["--config", os.path.join(ROOT, "configs", "separation_fashion_mnist.yaml"), "--set", "data.name=mnist",
            "--set", f"data.dir={data}", "--set", "tile_size=100", "--out", str(tmp_path / "out"), *extra]


def test_pixel_space_run_writes_json_and_figure(tmp_path, capsys):
    assert separation_cli.main(_args(tmp_path, "--set", "drop_smallest=1")) == 0
    record = json.loads((tmp_path / "out" / "separation.json").read_text())
    for norm in ("linf", "l2"):
        for pairing in ("train_train", "test_train"):
            entry = record[norm][pairing]
            assert {"min", "mean", "r", "percentiles", "per_class", "closest_pairs"} <= set(entry)
            assert entry["r"] == entry["min"] / 2 and len(entry["dropped"]) == 1
    assert record["data"]["train_examples"] == 256 and record["data"]["eval_examples"] == 64
    assert (tmp_path / "out" / "closest_pairs.png").stat().st_size > 1000
    assert (tmp_path / "out" / "config.yaml").read_text().startswith("# resolved config")
    assert "separation:" in capsys.readouterr().out.strip().splitlines()[-1]


def test_latent_space_measures_posterior_means(tmp_path, vae_path):
    vae = vae_path
    assert separation_cli.main(_args(tmp_path, "--vae", vae, "--set", "space=latent", "--set", "norms=[l2]",
                                     "--set", "pairings=[test_train]")) == 0
    record = json.loads((tmp_path / "out" / "separation.json").read_text())
    assert record["space"] == "latent" and list(record["l2"]) == ["test_train"]
    assert record["l2"]["test_train"]["computation"]["arithmetic"] == "float32"
    codec = VAECodec(vae)
    data_dir = tmp_path / "data"
    from robustkit.data import DATASETS
    from robustkit.data.examples import load_arrays

    options = DATASETS.options("mnist")(dir=str(data_dir))
    (x, y, _), (xt, yt, _) = load_arrays(options, "train", None), load_arrays(options, "test", None)
    expected = reference.nearest_other_label(codec.encode(xt)[0], yt, codec.encode(x)[0], y)["l2"]
    assert record["l2"]["test_train"]["min"] == pytest.approx(expected.min(), rel=1e-12)


def test_user_errors_exit_2_before_any_work(tmp_path, capsys):
    assert separation_cli.main(_args(tmp_path, "--set", "space=latent")) == 2
    assert "needs vae" in capsys.readouterr().err
    assert separation_cli.main(_args(tmp_path, "--set", "norms=[l1]")) == 2
    assert separation_cli.main(_args(tmp_path, "--vae", str(tmp_path), "--set", "space=latent")) == 2
    with pytest.raises(LatentError, match="numbered versions"):
        VAECodec(str(tmp_path))


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(ROOT, "configs", "separation_*.yaml"))),
                         ids=os.path.basename)
def test_shipped_configs_parse(path):
    job = config_lib.load(SeparationJob, path)
    assert job.space in ("pixel", "latent")
    assert open(path).readline().startswith(f"# python -m robustkit.separation --config configs/"
                                            f"{os.path.basename(path)}")


def test_print_config_runs_nothing(tmp_path, capsys):
    assert separation_cli.main(["--config", os.path.join(ROOT, "configs", "separation_fashion_mnist.yaml"),
                                "--print-config", "--set", "tile_size=64", "--out", str(tmp_path / "out")]) == 0
    assert "tile_size: 64" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()
