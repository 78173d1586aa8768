"""The README's Python API example runs as written, from the repository root."""

import glob
import os
import re
import subprocess
import sys

import pytest

from tests import helpers


def _python_api_blocks(text: str):
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_python_api_section_has_one_script_of_at_most_ten_statements():
    with open(os.path.join(helpers.ROOT, "README.md")) as f:
        blocks = _python_api_blocks(f.read())
    assert len(blocks) == 1
    import ast

    assert len(ast.parse(blocks[0]).body) <= 10


@pytest.mark.slow
def test_the_python_api_example_trains_attacks_and_writes_a_report(tmp_path):
    # The example leaves data.dir at its default, which looks in these two places.
    defaults = ["/usr/share/datasets/fashion-mnist", os.path.expanduser("~/.keras/datasets/fashion-mnist")]
    if not any(glob.glob(os.path.join(d, "train-images-idx3-ubyte*")) for d in defaults):
        pytest.skip(f"the offline Fashion-MNIST is not in {' or '.join(defaults)}, where the README's example looks")
    with open(os.path.join(helpers.ROOT, "README.md")) as f:
        script = _python_api_blocks(f.read())[0]
    # Outputs go to a temporary directory: the configs are read from the repository.
    os.symlink(os.path.join(helpers.ROOT, "configs"), tmp_path / "configs")
    env = {**os.environ, "PYTHONPATH": helpers.ROOT}
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    clean, autoattack = (float(v) for v in out.stdout.split()[-2:])
    assert 0.6 < clean <= 1.0 and 0.0 <= autoattack < clean
    for name in ("metrics.json", "report.html", "robust_accuracy.csv", "robustbench/small_cnn.json"):
        assert os.path.isfile(tmp_path / "runs" / "api_demo" / "report" / name), name
    assert os.path.isdir(tmp_path / "runs" / "api_demo" / "models" / "fashion_mnist_small_cnn" / "1")
