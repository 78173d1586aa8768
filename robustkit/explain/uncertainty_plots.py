"""The uncertainty figures of "Visualizing Impact of Uncertainty and Adversarial Attack on Deep Classifier Models",
one panel per model (one per dropout rate trained).

- confidence_per_class.png: that project's confidence (1 - variance over the MC
  samples of the label's probability) per class, clean and adversarial;
- accuracy_per_class.png: accuracy of the mean softmax per class (bars) and
  that project's per-image "accuracy", the mean probability of the label (dots);
- confidence_vs_accuracy.png: one point per class;
- mutual_information.png: the mutual information of clean and adversarial
  inputs, with the AUROC of telling them apart by it;
- good_bad.png: the most and least robust examples (smallest flipping epsilon).
"""

import math
from typing import Dict, List

import numpy as np

from robustkit.explain.plots import blank, class_name, plt, save_figure, show_image

_COLOURS = plt.rcParams["axes.prop_cycle"].by_key()["color"]


def _panels(count: int, width: float = 5.5, height: float = 3.8):
    cols = min(count, 3)
    rows = math.ceil(count / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.flat[count:]:
        ax.set_axis_off()
    return fig, list(axes.flat)


def _measured(record: Dict) -> List[str]:
    return ["clean", *record.get("adversarial", {})]


def _per_class(record: Dict, kind: str) -> List[Dict]:
    return record["clean"]["per_class"] if kind == "clean" else record["adversarial"][kind]["per_class"]


def per_class_figure(uncertainty: Dict[str, Dict], names: List[str], key: str, path: str, ylabel: str) -> None:
    """Bars of ``key`` per class, a colour per input kind (clean, each attack), a panel per model."""
    models = [m for m, r in uncertainty.items() if "clean" in r]
    fig, axes = _panels(len(models))
    for ax, model in zip(axes, models):
        record = uncertainty[model]
        kinds = _measured(record)
        width = 0.8 / len(kinds)
        low = 1.0
        for k, kind in enumerate(kinds):
            rows = _per_class(record, kind)
            x = np.array([r["class"] for r in rows]) - 0.4 + width * (k + 0.5)
            values = [r[key] for r in rows]
            low = min(low, min(values))
            ax.bar(x, values, width, color=_COLOURS[k % len(_COLOURS)], label=kind)
            if key == "accuracy":
                ax.plot(x, [r["mean_label_probability"] for r in rows], "k.", markersize=4,
                        label="mean label probability" if k == 0 else None)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=45, ha="right", fontsize=7)
        bottom = max(0.0, low - 0.05 * (1.0 - low) - 1e-4) if key == "confidence" else 0.0
        ax.set_ylim(bottom, 1.0 + 0.2 * (1.0 - bottom))
        ax.set_ylabel(ylabel)
        ax.set_title(record["label"], fontsize=9)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=6, loc="upper center", ncol=len(kinds) + 1, frameon=False)
    fig.tight_layout()
    save_figure(fig, path)


def confidence_vs_accuracy_figure(uncertainty: Dict[str, Dict], path: str) -> None:
    """One point per class (and input kind): confidence against accuracy.

    The confidence of "Visualizing Impact of Uncertainty and Adversarial Attack on Deep Classifier Models".
    """
    models = [m for m, r in uncertainty.items() if "clean" in r]
    fig, axes = _panels(len(models), 5.0, 4.2)
    for ax, model in zip(axes, models):
        record = uncertainty[model]
        for k, kind in enumerate(_measured(record)):
            rows = _per_class(record, kind)
            x, y = [r["confidence"] for r in rows], [r["accuracy"] for r in rows]
            ax.scatter(x, y, s=18, color=_COLOURS[k % len(_COLOURS)], label=kind)
            if kind == "clean":
                for r in rows:
                    ax.annotate(r["name"], (r["confidence"], r["accuracy"]), fontsize=5, alpha=0.8)
        ax.set_xlabel("confidence (1 - MC variance of the label's probability)")
        ax.set_ylabel("accuracy")
        ax.set_title(record["label"], fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    fig.tight_layout()
    save_figure(fig, path)


def mutual_information_figure(uncertainty: Dict[str, Dict], mi: Dict[str, Dict[str, np.ndarray]], path: str) -> None:
    """Histograms of the mutual information per input kind, AUROC (clean vs that attack) in the legend."""
    models = [m for m in uncertainty if m in mi]
    fig, axes = _panels(len(models), 5.0, 3.5)
    for ax, model in zip(axes, models):
        values = mi[model]
        top = float(np.percentile(np.concatenate(list(values.values())), 99)) or 1e-6
        bins = np.linspace(0.0, top, 30)
        for k, (kind, v) in enumerate(values.items()):
            auroc = uncertainty[model].get("adversarial", {}).get(kind, {}).get("auroc_mutual_information")
            label = kind if auroc is None else f"{kind} (AUROC {auroc:.3f})"
            ax.hist(np.minimum(v, top), bins=bins, histtype="step", color=_COLOURS[k % len(_COLOURS)], label=label,
                    weights=np.full(len(v), 1.0 / len(v)))
        ax.set_xlabel("mutual information (nats; the top 1% drawn in the last bin)")
        ax.set_ylabel("fraction of inputs")
        ax.set_title(uncertainty[model]["label"], fontsize=9)
        ax.legend(fontsize=6)
    fig.tight_layout()
    save_figure(fig, path)


def good_bad_figure(results, path: str) -> bool:
    """Rows of good and bad images per model; False if no model found any."""
    names = results.class_names
    shown = [res for res in results.models.values() if res.robustness is not None
             and (res.robustness.good or res.robustness.bad)]
    if not shown:
        return False
    cols = max(max(len(r.robustness.good), len(r.robustness.bad)) for r in shown)
    fig, axes = plt.subplots(2 * len(shown), cols, squeeze=False, figsize=(1.7 * cols, 2.0 * 2 * len(shown) + 0.5))
    for m, res in enumerate(shown):
        rob = res.robustness
        mi = res.mc["clean"].mutual_information if "clean" in res.mc else None
        for r, (kind, indices) in enumerate((("good", rob.good), ("bad", rob.bad))):
            for c in range(cols):
                ax = axes[2 * m + r][c]
                if c >= len(indices):
                    blank(ax, "")
                    continue
                i = indices[c]
                show_image(ax, results.images[i])
                flip = rob.flip[i]
                eps = f"not flipped <= {rob.epsilons[-1]:g}" if np.isinf(flip) else f"flips at {flip:g}"
                extra = "" if mi is None else f"\nMI {mi[i]:.3f}"
                ax.set_title(f"{kind}: {class_name(names, int(results.labels[i]))}\n{eps}{extra}", fontsize=6)
                if c == 0:
                    ax.set_ylabel(res.model.label, fontsize=7)
    fig.suptitle(f"Good (most robust) and bad (least robust) images under {results.robustness_attack}: "
                 "the smallest epsilon that flips each", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)
    return True
