"""Breaks one feature at a time in a copy of the tree and checks that its tests notice.

    python scripts/mutants.py                       # every mutant, on the committed tree (HEAD)
    python scripts/mutants.py --source worktree     # on the working tree's files instead
    python scripts/mutants.py --only export_resize --only plateau_ignores_loss --out mutants.json
    python scripts/mutants.py --list

Each mutant (`scripts/mutant_list.py`) replaces one exact snippet of one file
by a broken version of it: a README feature that no longer does what it says.
For each, the tree is copied to a temporary directory (``git archive HEAD``, or
the files ``git ls-files`` names), the snippet is replaced there, never in the
working tree, and the tests named for it run there with this project's Python
(``PYTHONPATH`` and the working directory at the copy). A mutant is killed when
those tests fail. First the same tests run on the unmutated copy: they must
pass, or a kill would mean nothing.

Prints a table (mutant | tests | killed) and exits 1 if a mutant survives, a
snippet is no longer found exactly once (the code drifted: update the list),
or the tests fail on the unmutated copy. ``--out FILE`` also writes the
results as JSON. It is run by hand (``make mutants``), not by ``make test``:
it takes a few minutes.
"""

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mutant_list import MUTANTS, Mutant  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def copy_tree(source: str, dest: str) -> None:
    """Copies the committed tree (``head``) or the working tree's git-listed files (``worktree``) to ``dest``."""
    if source == "head":
        archive = subprocess.run(["git", "archive", "--format=tar", "HEAD"], cwd=ROOT, check=True,
                                 capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(dest, filter="data")
        return
    names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           check=True, capture_output=True, text=True).stdout.split("\0")
    for name in filter(None, names):
        src = os.path.join(ROOT, name)
        if os.path.isfile(src):
            os.makedirs(os.path.dirname(os.path.join(dest, name)), exist_ok=True)
            with open(src, "rb") as fin, open(os.path.join(dest, name), "wb") as fout:
                fout.write(fin.read())


def _env(tree: str) -> Dict[str, str]:
    env = dict(os.environ)
    env.update(PYTHONPATH=tree, PYTHONDONTWRITEBYTECODE="1", TF_CPP_MIN_LOG_LEVEL="3")
    env.setdefault("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
    return env


def check_imports_from(tree: str, python: str) -> None:
    """Fails unless ``import robustkit`` in the copy finds the copy's package (not the editable install)."""
    out = subprocess.run([python, "-c", "import robustkit, os; print(os.path.realpath(robustkit.__file__))"],
                         cwd=tree, env=_env(tree), capture_output=True, text=True, check=True).stdout.strip()
    if not out.startswith(os.path.realpath(tree) + os.sep):
        raise SystemExit(f"the copy imports robustkit from {out}, not from {tree}; mutants would not be seen")


def run_tests(tree: str, python: str, tests: Sequence[str], timeout: float) -> Dict[str, Any]:
    """Runs ``tests`` in ``tree``; returns the exit status, the seconds taken and the output's tail."""
    start = time.perf_counter()
    cmd = [python, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-W", "ignore", *tests]
    try:
        proc = subprocess.run(cmd, cwd=tree, env=_env(tree), capture_output=True, text=True, timeout=timeout)
        rc, tail = proc.returncode, (proc.stdout + proc.stderr)[-1500:]
    except subprocess.TimeoutExpired:
        rc, tail = -1, f"timed out after {timeout:.0f} s"
    return {"rc": rc, "seconds": round(time.perf_counter() - start, 1), "tail": tail}


def mutate(tree: str, mutant: Mutant) -> Optional[str]:
    """Applies ``mutant`` inside ``tree``; returns the original text, or None if the snippet is not there once."""
    path = os.path.join(tree, mutant.path)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if text.count(mutant.original) != 1:
        return None
    with open(path, "w", encoding="utf-8") as f:
        f.write(text.replace(mutant.original, mutant.replacement))
    return text


def restore(tree: str, mutant: Mutant, text: str) -> None:
    with open(os.path.join(tree, mutant.path), "w", encoding="utf-8") as f:
        f.write(text)


def run_mutant(tree: str, python: str, mutant: Mutant, timeout: float) -> Dict[str, Any]:
    """Applies one mutant, runs its tests, and undoes it. ``killed``: the tests failed (pytest status 1 to 4)."""
    result: Dict[str, Any] = {"name": mutant.name, "feature": mutant.feature, "path": mutant.path,
                              "tests": list(mutant.tests)}
    original = mutate(tree, mutant)
    if original is None:
        return {**result, "status": "snippet not found once", "killed": None}
    try:
        outcome = run_tests(tree, python, mutant.tests, timeout)
    finally:
        restore(tree, mutant, original)
    if outcome["rc"] == 5:
        status = "no tests collected"
    else:
        status = "killed" if outcome["rc"] != 0 else "survived"
    return {**result, **outcome, "status": status, "killed": status == "killed"}


def table(results: List[Dict[str, Any]]) -> str:
    rows = [("mutant", "tests", "killed", "s")]
    for r in results:
        tests = ", ".join(t.replace("tests/", "") for t in r["tests"])
        killed = {True: "yes", False: "NO"}.get(r["killed"], r["status"])
        rows.append((r["name"], tests, killed, str(r.get("seconds", ""))))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(row[:3], widths)) + " | " + row[3] for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", choices=["head", "worktree"], default="head",
                        help="the committed tree (default) or the working tree's git-listed files")
    parser.add_argument("--only", action="append", default=[], metavar="NAME", help="run only these mutants")
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    parser.add_argument("--python", default=os.path.join(ROOT, ".venv", "bin", "python"),
                        help="the interpreter that runs the tests (default: .venv/bin/python)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per pytest run")
    parser.add_argument("--skip-baseline", action="store_true",
                        help="do not first run the tests on the unmutated copy")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy")
    parser.add_argument("--out", help="also write the results as JSON to this file")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    names = [m.name for m in MUTANTS]
    unknown = sorted(set(args.only) - set(names))
    if unknown or len(set(names)) != len(names):
        print(f"unknown or duplicate mutant names {unknown}; known: {', '.join(names)}", file=sys.stderr)
        return 2
    chosen = [m for m in MUTANTS if not args.only or m.name in args.only]
    if args.list:
        for m in chosen:
            print(f"{m.name}: {m.feature} ({m.path}) -> {' '.join(m.tests)}")
        return 0
    tree = tempfile.mkdtemp(prefix="robustkit-mutants-")
    start = time.perf_counter()
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    copy_tree(args.source, tree)
    check_imports_from(tree, args.python)
    print(f"copy of the {args.source} tree at commit {commit[:12]}: {tree}", flush=True)
    baseline = None
    if not args.skip_baseline:
        tests = sorted({t for m in chosen for t in m.tests})
        baseline = run_tests(tree, args.python, tests, args.timeout * 2)
        print(f"unmutated: {len(tests)} test ids, status {baseline['rc']}, {baseline['seconds']} s", flush=True)
        if baseline["rc"] != 0:
            print(baseline["tail"], file=sys.stderr)
    results = []
    if baseline is None or baseline["rc"] == 0:
        for mutant in chosen:
            results.append(run_mutant(tree, args.python, mutant, args.timeout))
            r = results[-1]
            print(f"{r['name']}: {r['status']} ({r.get('seconds', 0)} s)", flush=True)
    print()
    print(table(results))
    failed = [r["name"] for r in results if r["killed"] is not True]
    ok = not failed and (baseline is None or baseline["rc"] == 0)
    summary = {"source": args.source, "commit": commit, "killed": sum(r["killed"] is True for r in results),
               "mutants": len(chosen), "not_killed": failed, "baseline": baseline,
               "seconds": round(time.perf_counter() - start, 1), "results": results}
    print(f"\n{summary['killed']}/{len(chosen)} killed in {summary['seconds']} s"
          + (f"; not killed: {', '.join(failed)}" if failed else ""))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=2)
    if not args.keep:
        shutil.rmtree(tree, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
