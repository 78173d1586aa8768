import json
import os

import pytest

from robustkit import outputs


def test_atomic_dir_appears_only_when_complete(tmp_path):
    target = tmp_path / "model" / "1"
    with pytest.raises(RuntimeError):
        with outputs.atomic_dir(str(target)) as tmp:
            open(os.path.join(tmp, "half"), "w").close()
            raise RuntimeError("crash mid-write")
    assert not target.exists()
    assert os.listdir(tmp_path / "model") == [], "the temporary directory must be cleaned up"
    with outputs.atomic_dir(str(target)) as tmp:
        open(os.path.join(tmp, "whole"), "w").close()
    assert os.listdir(target) == ["whole"]


def test_atomic_dir_refuses_to_overwrite_unless_asked(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old").write_text("x")
    with pytest.raises(FileExistsError):
        with outputs.atomic_dir(str(target)):
            pass
    with outputs.atomic_dir(str(target), overwrite=True) as tmp:
        open(os.path.join(tmp, "new"), "w").close()
    assert os.listdir(target) == ["new"]


def test_write_json_round_trip_and_numpy_values(tmp_path):
    import numpy as np

    path = tmp_path / "m.json"
    outputs.write_json(str(path), {"a": np.float32(0.5), "b": np.arange(3)})
    assert json.loads(path.read_text()) == {"a": 0.5, "b": [0, 1, 2]}
    assert sorted(os.listdir(tmp_path)) == ["m.json"]


def test_next_version_dir(tmp_path):
    base = tmp_path / "model"
    assert outputs.next_version_dir(str(base)) == str(base / "1")
    (base / "1").mkdir(parents=True)
    (base / "7").mkdir()
    (base / "notes").mkdir()
    assert outputs.next_version_dir(str(base)) == str(base / "8")
