"""Writes a certification run's outputs: certify.csv, metrics.json, certified_accuracy.png and report.html."""

import csv
import html
import io
import json
import os
from typing import Any, Dict, List, Mapping, Sequence

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from robustkit import html_page, outputs  # noqa: E402
from robustkit.figures import save_png  # noqa: E402

FILES = ("certify.csv", "metrics.json", "certified_accuracy.png", "report.html", "config.yaml")
COLUMNS = ("index", "label", "prediction", "radius", "correct", "seconds", "model", "space", "sigma", "p_lower",
           "top_count", "predict", "predict_p_value")


def csv_text(tables: Sequence[Mapping[str, np.ndarray]]) -> str:
    """certify.csv: one row per model, space, sigma and example; radius 0 and prediction -1 on abstention."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for table in tables:
        for row in zip(*(table[c] for c in COLUMNS)):
            writer.writerow([f"{v:.6g}" if isinstance(v, (float, np.floating)) else v for v in row])
    return buffer.getvalue()


def certified_accuracy_figure(runs: Sequence[Mapping[str, Any]], tables: Sequence[Mapping[str, np.ndarray]],
                              path: str) -> None:
    """Certified accuracy against radius, one line per model and sigma, one panel per space."""
    spaces = [s for s in ("pixel", "latent") if any(r["space"] == s for r in runs)]
    fig, axes = plt.subplots(1, len(spaces), figsize=(5.5 * len(spaces), 4.0), squeeze=False)
    for ax, space in zip(axes[0], spaces):
        chosen = [(r, t) for r, t in zip(runs, tables) if r["space"] == space]
        top = max([float(np.max(t["radius"])) for _, t in chosen] + [0.1])
        grid = np.linspace(0.0, top * 1.05, 300)
        for run, table in chosen:
            radius, correct = table["radius"], table["correct"].astype(bool)
            accuracy = [np.mean(correct & (radius >= r) & (radius > 0)) for r in grid]
            ax.plot(grid, accuracy, label=f"{run['model']}, sigma {run['sigma']:g}")
        ax.set_xlabel("radius (" + ("L2, pixel units" if space == "pixel" else "latent L2, prior std units") + ")")
        ax.set_ylabel("certified accuracy")
        ax.set_ylim(0.0, 1.0)
        ax.set_title(f"{space} space")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_png(fig, path)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return '<span class="pass">pass</span>' if value else '<span class="fail">FAIL</span>'
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def html_text(record: Mapping[str, Any]) -> str:
    """report.html: certified accuracy per model, space and sigma, the latent set, the checks, the figure."""
    e = html.escape
    options = record["certify"]
    parts = [
        "<h1>Certified robustness by randomized smoothing</h1>",
        f"<p>{record['runs'][0]['examples'] if record['runs'] else 0} examples of {e(record['data']['name'])}:"
        f"{e(record['data']['split'])}. CERTIFY and PREDICT of Cohen, Rosenfeld &amp; Kolter (2019): n0 = "
        f"{options['n0']} selection draws, n = {options['n']} estimation draws, PREDICT with {options['predict_n']} "
        f"draws, alpha = {options['alpha']:g}; radius = sigma * Phi^-1(p_A) with p_A the one-sided Clopper-Pearson "
        "lower bound, 0 on abstention. Strategy "
        f"{e(record['strategy']['class'])} with {record['strategy']['replicas']} replica(s).</p>",
    ]
    for space in ("pixel", "latent"):
        runs = [r for r in record["runs"] if r["space"] == space]
        if not runs:
            continue
        radii = list(runs[0]["certified_accuracy"])
        parts.append(f"<h2>{space} space ({e(runs[0]['units'])})</h2>")
        header = ["model", "sigma"] + [f"r = {r}" for r in radii] + [
            "smoothed clean accuracy (PREDICT)", "base accuracy, clean", "base accuracy under noise",
            "CERTIFY abstains", "PREDICT abstains", "seconds", "noisy passes / s"]
        rows = [[r["model"], r["sigma"]] + [r["certified_accuracy"][k] for k in radii] + [
            r["smoothed_clean_accuracy"], r["base_clean_accuracy"], r["noisy_accuracy"], r["certify_abstentions"],
            r["predict_abstentions"], r["seconds"], r["noisy_forward_passes_per_second"]] for r in runs]
        parts.append(html_page.table(header, rows, fmt=_fmt))
    latent = record.get("latent")
    if latent:
        coverage = latent.get("coverage") or {}
        parts.append("<h2>The learned perturbation set</h2>"
                     f"<p>{e(str(latent['path']))}, {latent['latent_dim']} latent dimension(s). Its coverage: the "
                     "share of held-out real perturbations whose code lies within each latent radius (Wong &amp; "
                     "Kolter, 2020); a certified latent radius guards that share of them.</p>")
        if coverage:
            parts.append(html_page.table(["latent radius", "coverage"], [[k, v] for k, v in coverage.items()],
                                         fmt=_fmt))
    parts.append("<h2>Checks</h2>")
    parts.append(html_page.table(["check", "model", "space", "sigma", "result", "detail"], [
        [c["check"], c["model"], c["space"], c["sigma"], c["passed"], c["detail"]] for c in record["checks"]],
        fmt=_fmt))
    parts.append('<h2>Certified accuracy against radius</h2><img src="certified_accuracy.png" '
                 'alt="certified accuracy against radius">')
    parts.append("<h2>Record</h2><pre>" + e(json.dumps(record, indent=2, default=str)) + "</pre>")
    return html_page.page("robustkit certify", parts)


def console_lines(record: Mapping[str, Any]) -> str:
    """One line per model, space and sigma: certified accuracy at each radius, PREDICT's accuracy, time."""
    lines: List[str] = []
    for r in record["runs"]:
        accuracy = "  ".join(f"r{k} {v:.3f}" for k, v in r["certified_accuracy"].items())
        lines.append(f"{r['model']} {r['space']} sigma {r['sigma']:g}: {accuracy}  smoothed clean "
                     f"{r['smoothed_clean_accuracy']:.3f}  ({r['examples']} examples, {r['seconds']:.1f} s)")
    failed = [c for c in record["checks"] if not c["passed"]]
    lines.append("checks: all passed" if not failed else "checks FAILED: " + "; ".join(
        f"{c['check']} {c['model']} {c['space']} sigma {c['sigma']:g}: {c['detail']}" for c in failed))
    return "\n".join(lines)


def write_all(out: str, record: Dict[str, Any], tables: Sequence[Mapping[str, np.ndarray]]) -> None:
    """Writes certify.csv, metrics.json, certified_accuracy.png and report.html to ``out`` (each atomically)."""
    outputs.write_text(os.path.join(out, "certify.csv"), csv_text(tables))
    outputs.write_json(os.path.join(out, "metrics.json"), record)
    certified_accuracy_figure(record["runs"], tables, os.path.join(out, "certified_accuracy.png"))
    outputs.write_text(os.path.join(out, "report.html"), html_text(record))
