"""The wheel ships every package, and its console scripts work from the installed wheel alone."""

import glob
import os
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENTRY_MODULES = ["robustkit.train", "robustkit.validate_adv", "robustkit.separation.__main__",
                 "robustkit.testgen.__main__", "robustkit.explain.__main__", "robustkit.certify.__main__"]
SCRIPTS = ["robustkit-train", "robustkit-validate-adv", "robustkit-separation", "robustkit-testgen",
           "robustkit-explain", "robustkit-certify"]


def _source_packages():
    """Every directory of robustkit/ that holds Python files, as a path inside the wheel."""
    found = set()
    for directory, _, files in os.walk(os.path.join(ROOT, "robustkit")):
        if "__pycache__" not in directory and any(f.endswith(".py") for f in files):
            found.add(os.path.relpath(directory, ROOT).replace(os.sep, "/"))
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", str(out), ROOT],
        capture_output=True, text=True, timeout=300, cwd=str(out),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (path,) = glob.glob(str(out / "robustkit-*.whl"))
    return path


@pytest.mark.slow
def test_the_wheel_holds_every_package_directory(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    shipped = {os.path.dirname(n) for n in names if n.endswith(".py")}
    missing = sorted(_source_packages() - shipped)
    assert not missing, f"directories of robustkit/ with Python files missing from the wheel: {missing}"
    assert all(f"{d}/__init__.py" in names for d in _source_packages())


@pytest.mark.slow
def test_the_installed_wheel_answers_every_console_script(wheel, tmp_path):
    target = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target),
                           wheel], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # The installed copy, not the source tree (nor the editable install) answers: it comes first on the path
    # and the commands run from a directory without the sources.
    env = dict(os.environ, PYTHONPATH=str(target), TF_CPP_MIN_LOG_LEVEL="3")
    where = subprocess.run([sys.executable, "-c", "import robustkit.training.loop as m; print(m.__file__)"],
                           capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=300)
    assert where.returncode == 0, where.stderr[-3000:]
    assert where.stdout.strip().startswith(str(target))
    proc = subprocess.run([str(target / "bin" / "robustkit-train"), "--help"], capture_output=True, text=True,
                          env=env, cwd=str(tmp_path), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "--config" in proc.stdout
    # Every other console script is installed and its entry point imports from the wheel.
    entries = [line.split("=", 1)[1].strip() for line in (target / _dist_info(target) / "entry_points.txt")
               .read_text().splitlines() if "=" in line]
    assert sorted(line.split(":")[0] for line in entries) == sorted(ENTRY_MODULES)
    assert all((target / "bin" / script).is_file() for script in SCRIPTS)
    checks = [f"assert callable(getattr(importlib.import_module({m!r}), {f!r}))" for m, f in
              (e.split(":") for e in entries)]
    code = "\n".join(["import importlib", *checks])
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=str(tmp_path),
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]


def _dist_info(target) -> str:
    (name,) = [p.name for p in target.iterdir() if p.name.endswith(".dist-info")]
    return name
