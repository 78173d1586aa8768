"""The validation figures: accuracy against epsilon, and adversarial examples (PNG, written atomically)."""

from typing import List, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from robustkit.figures import save_png, show_image  # noqa: E402
from robustkit.evaluation.scoring import Results  # noqa: E402

_STYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "D", "v", "P")


def accuracy_vs_epsilon(results: Results, path: str) -> None:
    """One panel per norm; a colour per attack, a line style per model, the worst case in black."""
    norms = sorted({i.norm for i in results.attacks.values() if i.norm})
    fig, axes = plt.subplots(1, max(len(norms), 1), figsize=(6.5 * max(len(norms), 1), 4.6), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, norm in zip(axes[0], norms):
        labels = [i.label for i in results.attacks.values() if i.norm == norm]
        for a, label in enumerate(labels):
            for m, model in enumerate(results.models):
                rows = [r for r in results.sweep(model, label) if r.epsilon is not None]
                ax.plot([r.epsilon for r in rows], [r.accuracy for r in rows], color=colours[a % len(colours)],
                        linestyle=_STYLES[m % len(_STYLES)], marker=_MARKERS[a % len(_MARKERS)], markersize=4,
                        label=f"{label} / {model}")
        for m, model in enumerate(results.models):
            rows = results.worst_case.get(model, {}).get(norm, [])
            if rows:
                ax.plot([r["epsilon"] for r in rows], [r["accuracy"] for r in rows], color="black",
                        linestyle=_STYLES[m % len(_STYLES)], linewidth=2, label=f"worst case / {model}")
        ax.set_title(f"{norm} attacks ({results.num_examples} examples)")
        ax.set_xlabel("epsilon" + (" (pixel units of [0, 1])" if norm == "linf" else " (L2 radius)"))
        ax.set_ylabel("accuracy")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper right")
    if not norms:
        axes[0][0].text(0.5, 0.5, "no attack with epsilons configured", ha="center", va="center")
        axes[0][0].set_axis_off()
    fig.tight_layout()
    save_png(fig, path)


def _name(class_names: Sequence[str], index: int) -> str:
    return class_names[index] if 0 <= index < len(class_names) else str(index)


def adversarial_examples(results: Results, path: str) -> bool:
    """Original, then per model the adversarial image and the difference, with predicted class names.

    Returns:
      False (and writes nothing) when no examples were kept.
    """
    ex = results.examples
    if "images" not in ex or not ex.get("adversarial"):
        return False
    images, labels = ex["images"], ex["labels"]
    models: List[str] = [m for m in results.models if m in ex["adversarial"]]
    names = results.class_names
    rows, cols = len(images), 1 + 2 * len(models)
    fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols, 2.0 * rows + 0.6), squeeze=False)
    largest = max(float(np.abs(ex["adversarial"][m] - images).max()) for m in models) or 1.0
    for i in range(rows):
        show_image(axes[i][0], images[i])
        clean = ", ".join(f"{m}: {_name(names, int(ex['clean_predicted'][m][i]))}" for m in models)
        axes[i][0].set_title(f"true: {_name(names, int(labels[i]))}\n{clean}", fontsize=6)
        for m, model in enumerate(models):
            adversarial = ex["adversarial"][model][i]
            predicted = int(ex["predicted"][model][i])
            ax = axes[i][1 + 2 * m]
            show_image(ax, adversarial)
            ax.set_title(f"{model}: {_name(names, predicted)}", fontsize=7,
                         color="green" if predicted == int(labels[i]) else "red")
            diff = (adversarial - images[i]).mean(axis=-1)
            ax = axes[i][2 + 2 * m]
            ax.imshow(diff, cmap="seismic", vmin=-largest, vmax=largest)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{model}: difference", fontsize=7)
    eps = "" if ex.get("epsilon") is None else f", epsilon {ex['epsilon']:g}"
    fig.suptitle(f"{ex.get('description', ex.get('attack'))}{eps}; difference scale +-{largest:.3g}", fontsize=9)
    fig.tight_layout()
    save_png(fig, path)
    return True
