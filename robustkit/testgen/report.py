"""Writes a test-generation run's outputs: tests.npz, metrics.json, grid.png and report.html (atomically)."""

import html
import io
import json
from typing import Any, Dict, List, Mapping, Optional, Sequence

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from robustkit import html_page, outputs  # noqa: E402
from robustkit.figures import save_png, show_image  # noqa: E402

FILES = ("tests.npz", "metrics.json", "grid.png", "report.html", "config.yaml")
PASS, FAIL = "#1a7f37", "#d1242f"


def write_tests(path: str, arrays: Mapping[str, np.ndarray]) -> None:
    """tests.npz: every array of ``arrays`` (images, labels, seed indices, distances, predictions)."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    outputs.write_bytes(path, buffer.getvalue())


def _show(ax, image: np.ndarray, frame: Optional[str] = None) -> None:
    show_image(ax, image)
    for spine in ax.spines.values():
        spine.set_visible(frame is not None)
        if frame is not None:
            spine.set_color(frame)
            spine.set_linewidth(2.5)


def grid_rows(labels: np.ndarray, has_tests: np.ndarray, count: int) -> List[int]:
    """Up to ``count`` seed positions with tests (any seeds if none has one), taking the classes in turn."""
    shown = has_tests if np.any(has_tests) else np.ones(len(labels), bool)
    queues = {c: list(np.flatnonzero((labels == c) & shown)) for c in np.unique(labels)}
    rows: List[int] = []
    while len(rows) < count and any(queues.values()):
        for c in sorted(queues):
            if queues[c] and len(rows) < count:
                rows.append(int(queues[c].pop(0)))
    return rows


def grid_figure(path: str, seeds: Mapping[str, np.ndarray], tests: Mapping[str, np.ndarray], rows: Sequence[int],
                class_names: Sequence[str], title: str) -> bool:
    """Each seed beside its generated tests; the model's failures framed in red with the class it gave.

    Args:
      path: the PNG to write.
      seeds: ``images``, ``labels``, ``indices`` and optionally ``reconstructions`` per seed.
      tests: ``images``, ``seed_slots``, ``predictions`` and ``distances`` per test.
      rows: the seed positions drawn.
      class_names: names by label.
      title: the figure's title.

    Returns:
      False (and writes nothing) when there is no row.
    """
    if not rows:
        return False
    extra = 1 if "reconstructions" in seeds else 0
    per_seed = max(int(np.sum(tests["seed_slots"] == s)) for s in rows)
    cols = 1 + extra + max(per_seed, 1)
    fig, axes = plt.subplots(len(rows), cols, figsize=(max(1.05 * cols + 0.3, 6.5), 1.3 * len(rows) + 0.7),
                             squeeze=False)
    for r, slot in enumerate(rows):
        label = int(seeds["labels"][slot])
        _show(axes[r][0], seeds["images"][slot], frame="black")
        axes[r][0].set_title(f"seed {int(seeds['indices'][slot])}\n{class_names[label]}", fontsize=6)
        if extra:
            _show(axes[r][1], seeds["reconstructions"][slot])
            axes[r][1].set_title("decoded\nseed code", fontsize=6)
        mine = np.flatnonzero(tests["seed_slots"] == slot)
        for c in range(max(per_seed, 1)):
            ax = axes[r][1 + extra + c]
            if c >= len(mine):
                ax.set_axis_off()
                if not per_seed:
                    ax.text(0.0, 0.5, "no test kept within r", fontsize=7, va="center")
                continue
            t = mine[c]
            predicted = int(tests["predictions"][t])
            ok = predicted == label
            _show(ax, tests["images"][t], frame=None if ok else FAIL)
            ax.set_title(f"{class_names[predicted] if not ok else 'ok'}\nd={tests['distances'][t]:.3g}",
                         fontsize=6, color=PASS if ok else FAIL)
    fig.suptitle(title, fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    save_png(fig, path)
    return True


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return html.escape(str(value))


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    return html_page.table(header, rows, fmt=_fmt)


def html_text(metrics: Dict[str, Any], class_names: Sequence[str], has_grid: bool, failures: int = 30) -> str:
    """report.html: the radius, the generation counts, accuracy and oracle agreement per class, the grid, failures."""
    e = html.escape
    m, gen, radius = metrics["model"], metrics["generation"], metrics["radius"]
    oracle = metrics.get("oracle")
    parts = [f"<h1>Generated tests: {e(m['name'])}</h1>",
             f"<p>{gen['seeds_used']} seeds of {e(metrics['data']['name'])}:{e(metrics['data']['eval_split'])} in "
             f"{e(metrics['space'])} space; tests drawn {e(metrics['sampling']['distribution'])} within "
             f"{'' if radius['scale'] == 1 else format(radius['scale'], 'g') + ' '}r of each seed "
             f"({e(radius['norm'])}, r {e(radius['summary'])}) and kept only when within r of it. Every test carries "
             "its seed's label (r-separation, Yang et al. 2020).</p>", "<h2>Summary</h2>"]
    rows = [["radius r", radius["summary"]], ["r measured from", radius["source"]],
            ["seeds selected", gen["seeds_selected"]], ["seeds left out by the 2r check", gen["seeds_not_separated"]],
            ["candidates drawn", gen["drawn"]], ["tests kept", gen["accepted"]],
            ["acceptance rate", gen["acceptance_rate"]],
            [f"{m['name']} accuracy on the seeds", m["seed_accuracy"]["accuracy"]],
            [f"{m['name']} accuracy on the tests", m["test_accuracy"]["accuracy"]],
            ["tests it fails", m["failures"]]]
    if oracle:
        rows += [[f"oracle {oracle['name']}: tests given the seed's label (validity)", oracle["validity"]["accuracy"]],
                 [f"oracle {oracle['name']} accuracy on the seeds", oracle["seed_accuracy"]["accuracy"]],
                 ["failures the oracle confirms (it gives the seed's label)", m.get("failures_oracle_confirms")]]
    parts.append(_table(["quantity", "value"], rows))
    parts.append("<h2>Per class</h2>")
    header = ["class", "tests", f"{m['name']} accuracy"] + ([f"oracle {oracle['name']} agreement"] if oracle else [])
    parts.append(_table(header, [
        [name, m["test_accuracy"]["per_class"][name]["count"], m["test_accuracy"]["per_class"][name]["accuracy"]]
        + ([oracle["validity"]["per_class"][name]["accuracy"]] if oracle else []) for name in class_names]))
    if has_grid:
        parts.append('<h2>Seeds and their tests</h2><p>First column: the seed; failures of the model are framed '
                     'in red with the class it gave; d is the checked distance to the seed.</p>'
                     '<img src="grid.png" alt="seeds and generated tests">')
    listed = metrics.get("failures", [])[:failures]
    if listed:
        parts.append(f"<h2>Failures (first {len(listed)})</h2>")
        parts.append(_table(["test", "seed", "label", "predicted", "oracle", "distance"], [
            [f["test"], f["seed"], class_names[f["label"]], class_names[f["predicted"]],
             class_names[f["oracle"]] if f.get("oracle") is not None else "-", f["distance"]] for f in listed]))
    record = {k: v for k, v in metrics.items() if k != "failures"}
    parts.append("<h2>Record</h2><pre>" + e(json.dumps(record, indent=2, default=str)) + "</pre>")
    return html_page.page("robustkit testgen", parts)
