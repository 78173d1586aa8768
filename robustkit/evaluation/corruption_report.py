"""The corruption benchmark's outputs: metrics, corruption_accuracy.csv, the heatmap, HTML and console lines.

Each function takes the validation's `Results` and does nothing when it holds
no corruption results (``results.corruptions`` is None), so the report calls
them unconditionally.
"""

import csv
import html
import io
import math
import os
from typing import Any, Dict, List, Optional

import numpy as np

from robustkit import html_page, outputs
from robustkit.evaluation.corruption import CorruptionResults

CSV = "corruption_accuracy.csv"
HEATMAP = "corruption_heatmap.png"
WORST_MARKED = 3  # Cells outlined per model: its lowest accuracies.


def _finite(value: float) -> Optional[float]:
    return None if value is None or math.isnan(value) or math.isinf(value) else float(value)


def _clean(mapping: Dict[str, float]) -> Dict[str, Optional[float]]:
    return {k: _finite(v) for k, v in mapping.items()}


def _summary_record(found: CorruptionResults, model: str, members=None) -> Dict[str, Any]:
    s = found.summary(model, members)
    return {"mean_corruption_accuracy": _finite(s["mean_corruption_accuracy"]), "mce": _finite(s["mce"]),
            "relative_mce": _finite(s["relative_mce"]), "corruptions": s["corruptions"]}


def add_metrics(found: CorruptionResults, record: Dict[str, Any]) -> None:
    """Adds ``mce`` and a ``corruptions`` block to every model of metrics.json, and the run's settings."""
    for model in found.models:
        s = found.summary(model)
        entry = record["models"].setdefault(model, {})
        entry["mce"] = _finite(s["mce"])
        entry["corruptions"] = {
            "clean_accuracy": found.clean[model],
            "mean_corruption_accuracy": _finite(s["mean_corruption_accuracy"]),
            "mce": _finite(s["mce"]), "relative_mce": _finite(s["relative_mce"]),
            "ce": _clean(s["ce"]), "relative_ce": _clean(s["relative_ce"]),
            "accuracy": [{"corruption": n, "severity": sev, "accuracy": a}
                         for (n, sev), a in zip(found.entries, found.accuracy[model])],
            "groups": {label: _summary_record(found, model, members) for label, members in found.groups.items()},
        }
    record["corruptions"] = {
        "baseline": found.baseline, "examples": found.examples, "seed": found.seed, "source": found.source,
        "blocks": len(found.entries), "corruptions": found.corruptions(), "groups": found.groups,
        "build_seconds": found.build_seconds, "score_seconds": found.score_seconds,
        "images_per_second": _finite(found.images_per_second), "cache": found.cache_path,
    }


def csv_text(found: CorruptionResults) -> str:
    """One row per model, corruption and severity (severity empty for corruptions applied one way)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["model", "corruption", "severity", "accuracy", "error", "examples"])
    for model in found.models:
        for (name, severity), acc in zip(found.entries, found.accuracy[model]):
            writer.writerow([model, name, "" if severity is None else severity, repr(float(acc)),
                             repr(1.0 - float(acc)), found.examples])
    return buffer.getvalue()


def _grid(found: CorruptionResults) -> np.ndarray:
    """[corruption, model]: accuracy averaged over severities."""
    names = found.corruptions()
    grid = np.zeros((len(names), len(found.models)))
    for j, model in enumerate(found.models):
        for i, name in enumerate(names):
            grid[i, j] = np.mean([a for (n, _), a in zip(found.entries, found.accuracy[model]) if n == name])
    return grid


def heatmap(found: CorruptionResults, path: str) -> None:
    """Corruption x model, accuracy averaged over severities; each model's worst cells outlined in red."""
    from robustkit.figures import save_png  # pylint: disable=import-outside-toplevel
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
    from matplotlib.patches import Rectangle  # pylint: disable=import-outside-toplevel

    names, grid = found.corruptions(), _grid(found)
    fig, ax = plt.subplots(figsize=(2.0 + 1.3 * len(found.models), 1.2 + 0.38 * len(names)))
    image = ax.imshow(grid, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    for j in range(grid.shape[1]):
        order = [i for i in np.argsort(grid[:, j], kind="stable") if names[i] != "identity"]
        for i in order[:WORST_MARKED]:
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2.2))
        for i in range(grid.shape[0]):
            ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=8,
                    color="white" if grid[i, j] < 0.55 else "black")
    ax.set_xticks(range(len(found.models)), [f"{m}\nmCE {_text(found.summary(m)['mce'])}" for m in found.models])
    ax.set_yticks(range(len(names)), names)
    ax.set_title(f"accuracy per corruption ({found.examples} examples; red: {WORST_MARKED} worst per model)",
                 fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.04)
    fig.tight_layout()
    save_png(fig, path)


def _text(value: Optional[float], digits: int = 3) -> str:
    value = _finite(value)
    return "-" if value is None else f"{value:.{digits}f}"


def write(results, record: Dict[str, Any], out_dir: str) -> Dict[str, str]:
    """Adds to ``record`` and writes the csv and the heatmap; returns file name -> path."""
    found: Optional[CorruptionResults] = getattr(results, "corruptions", None)
    if found is None:
        return {}
    add_metrics(found, record)
    paths = {CSV: os.path.join(out_dir, CSV), HEATMAP: os.path.join(out_dir, HEATMAP)}
    outputs.write_text(paths[CSV], csv_text(found))
    heatmap(found, paths[HEATMAP])
    return paths


def console_lines(results) -> List[str]:
    """Per corruption and severity, ``<model> model accuracy: ...`` for every model, then the summaries."""
    found: Optional[CorruptionResults] = getattr(results, "corruptions", None)
    if found is None:
        return []
    lines = [f"corruptions: {len(found.entries)} blocks of {found.examples} examples ({found.source}), "
             f"baseline {found.baseline}"]
    for k, (name, severity) in enumerate(found.entries):
        cells = "   ".join(f"{m} model accuracy: {found.accuracy[m][k]:.6f}" for m in found.models)
        lines.append(f"  {name:<14} {'-' if severity is None else severity:<2} {cells}")
    for label, members in [("all", None), *found.groups.items()]:
        cells = "   ".join(f"{m}: mean accuracy {_text(s['mean_corruption_accuracy'], 4)}, mCE {_text(s['mce'])}, "
                           f"relative mCE {_text(s['relative_mce'])}"
                           for m, s in ((m, found.summary(m, members)) for m in found.models))
        lines.append(f"  corruptions {label}: {cells}")
    return lines


def html_section(results) -> List[str]:
    """The report.html section: the summary per model and group, the heatmap, the accuracy per block."""
    found: Optional[CorruptionResults] = getattr(results, "corruptions", None)
    if found is None:
        return []
    e = html.escape
    parts = [f"<h2>Corruptions ({len(found.entries)} blocks of {found.examples} examples, {e(found.source)}, "
             f"seed {found.seed}, baseline {e(found.baseline)})</h2>",
             "<p>Every model is scored on the same corrupted images. mCE and relative mCE after Hendrycks &amp; "
             "Dietterich (2019): per corruption, the model's errors summed over severities divided by the "
             "baseline's (relative: both less their clean error), averaged over corruptions, identity "
             f"excluded. Build {found.build_seconds:.1f} s, scoring {found.score_seconds:.1f} s "
             f"({found.images_per_second:.0f} model-images/s).</p>"]
    rows = []
    for label, members in [("all", None), *found.groups.items()]:
        for m in found.models:
            s = found.summary(m, members)
            rows.append([e(label), e(m), _text(found.clean[m], 4), _text(s["mean_corruption_accuracy"], 4),
                         _text(s["mce"]), _text(s["relative_mce"]), e(", ".join(s["corruptions"]))])
    parts.append(html_page.table(["corruptions", "model", "clean accuracy", "mean corruption accuracy", "mCE",
                                  "relative mCE", "members"], rows, fmt=html_page.markup))
    parts.append(f'<img src="{HEATMAP}" alt="accuracy per corruption and model">')
    table_rows = [[e(name), "-" if severity is None else str(severity)]
                  + [_text(found.accuracy[m][k], 4) for m in found.models]
                  for k, (name, severity) in enumerate(found.entries)]
    parts.append(html_page.table(["corruption", "severity"] + [f"{m} accuracy" for m in found.models],
                                 table_rows, fmt=html_page.markup))
    return parts
