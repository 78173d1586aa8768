"""``python -m robustkit.train`` end to end on tiny real-format data."""

import csv
import json
import os

import pytest

from robustkit import train
from tests import helpers


def test_help_describes_the_flags(capsys):
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--config", "--set", "--print-config", "exported: <path>"):
        assert flag in out


def test_misspelt_key_fails_with_suggestion(tmp_path, capsys):
    code = train.main(["--set", "train.batch_sise=8", "--print-config"])
    err = capsys.readouterr().err
    assert code == 2
    assert "'train.batch_sise' is not a known key; did you mean 'train.batch_size'?" in err


def test_print_config_shows_resolved_values(capsys):
    assert train.main(["--set", "run.name=abc", "--print-config"]) == 0
    out = capsys.readouterr().out
    assert "dir: runs/abc" in out and "name: abc" in out


def test_missing_data_dir_is_a_clear_error(tmp_path, capsys):
    config = helpers.train_config(tmp_path, str(tmp_path / "absent"))
    assert train.main(["--config", config]) == 2
    assert str(tmp_path / "absent") in capsys.readouterr().err


@pytest.mark.slow
def test_trains_writes_outputs_and_exports(tmp_path, capsys):
    data_dir = helpers.write_learnable_idx(tmp_path / "data")
    config = helpers.train_config(tmp_path, data_dir, train={"epochs": 3})
    assert train.main(["--config", config]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    export = str(tmp_path / "exports" / "m" / "1")
    assert lines[-1] == f"exported: {export}"

    run = tmp_path / "run"
    assert (run / "config.yaml").read_text().startswith("# resolved config")
    rows = list(csv.DictReader(open(run / "history.csv")))
    assert [r["epoch"] for r in rows] == ["0", "1", "2"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs"] == 3 and metrics["train_examples"] == 256
    assert metrics["val_accuracy"] > 0.9, "the quadrant task is easy; the model must learn it"
    assert metrics["examples_per_second"] > 0
    assert metrics["versions"]["tensorflow"] == "2.21.0"
    assert (run / "training_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert open(os.path.join(export, "assets", "labels.txt")).read().split() == [str(i) for i in range(10)]
    # A second run exports the next version beside the first.
    assert train.main(["--config", config, "--set", "train.epochs=1", "--set", f"run.dir={tmp_path / 'run2'}"]) == 0
    assert sorted(os.listdir(tmp_path / "exports" / "m")) == ["1", "2"]


@pytest.mark.slow
def test_killed_run_resumes_where_it_stopped(tmp_path, monkeypatch):
    undo = helpers.crash_after_epoch(monkeypatch, 1)
    data_dir = helpers.write_learnable_idx(tmp_path / "data")
    config = helpers.train_config(tmp_path, data_dir, train={"epochs": 4})
    with pytest.raises(helpers.Crash):
        train.main(["--config", config])
    run = tmp_path / "run"
    assert (run / "backup").is_dir()
    assert not (tmp_path / "exports").exists(), "nothing is exported before training ends"

    undo()
    assert train.main(["--config", config]) == 0
    rows = list(csv.DictReader(open(run / "history.csv")))
    assert [r["epoch"] for r in rows] == ["0", "1", "2", "3"], "the rerun continues at epoch 2"
    assert not (run / "backup").exists()
    # Running the finished command again starts afresh rather than appending.
    assert train.main(["--config", config, "--set", "train.epochs=1"]) == 0
    assert [r["epoch"] for r in csv.DictReader(open(run / "history.csv"))] == ["0"]
