"""``--model NAME=PATH``: names, version roots, and paths that hold no model."""

import pytest

from robustkit.models.paths import ModelPathError, parse_model_flags, resolve_model_path


def _saved_model(path):
    path.mkdir(parents=True)
    (path / "saved_model.pb").write_bytes(b"")
    return path


def test_a_model_root_resolves_to_its_highest_version(tmp_path):
    for version in ("1", "2", "10"):
        _saved_model(tmp_path / "m" / version)
    (tmp_path / "m" / "11").mkdir()  # A version still being written holds no saved_model.pb.
    assert resolve_model_path(str(tmp_path / "m")) == str(tmp_path / "m" / "10")
    assert resolve_model_path(str(tmp_path / "m" / "2")) == str(tmp_path / "m" / "2")
    keras_file = tmp_path / "k.h5"
    keras_file.write_bytes(b"")
    assert parse_model_flags([f"a={tmp_path / 'm'}", f"b={keras_file}"]) == {
        "a": str(tmp_path / "m" / "10"), "b": str(keras_file)}


@pytest.mark.parametrize(
    "flags, pattern",
    [
        ([], "no model given"),
        (["base"], "expected NAME=PATH"),
        (["=x"], "expected NAME=PATH"),
        (["a b=x"], "may hold only letters"),
        (["a={m}", "a={m}"], "given twice"),
        (["a={tmp}/missing"], r"--model a path '.*missing' does not exist"),
        (["a={tmp}"], "without saved_model.pb and without numbered versions"),
        (["a={tmp}/notes.txt"], "not a Keras model file"),
    ],
)
def test_bad_model_flags_say_what_is_wrong(tmp_path, flags, pattern):
    _saved_model(tmp_path / "m")
    (tmp_path / "notes.txt").write_text("x")
    flags = [f.format(tmp=tmp_path, m=tmp_path / "m") for f in flags]
    with pytest.raises(ModelPathError, match=pattern):
        parse_model_flags(flags)
