"""The saliency and activation figures (PNG, written atomically), and the drawing helpers they share.

saliency.png (section 9 of "Adversarially-Trained Classifier"): per example row, per model, the image,
the top-k predictions with class names, and one map per method; models side
by side. saliency_adversarial.png: the same for each model's own adversarial
versions. activations.png: per model, the chosen layers' feature maps for one
image and its adversarial versions side by side, on one scale per channel.
"""

from typing import List, Optional, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from robustkit import figures  # noqa: E402
from robustkit.figures import save_png  # noqa: E402
from robustkit.explain.activations import tile_together  # noqa: E402

_TILES = plt.get_cmap("viridis").with_extremes(bad="white")


def save_figure(fig, path: str, dpi: int = 100) -> None:
    """Writes ``fig`` as a PNG atomically and closes it."""
    save_png(fig, path, dpi)


def class_name(names: Sequence[str], index: int) -> str:
    return names[index] if 0 <= index < len(names) else str(index)


def show_image(ax, image: np.ndarray) -> None:
    """An image in [0, 1] (gray for one channel), without ticks."""
    figures.show_image(ax, image)


def blank(ax, text: Optional[str] = None) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    if text is not None:
        ax.set_axis_off()
        ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=7, wrap=True, transform=ax.transAxes)


def show_map(ax, attribution: np.ndarray, signed: bool) -> None:
    """One attribution map ``[H, W, C]``, channels averaged, scaled to its 99th percentile."""
    flat = attribution.mean(axis=-1)
    top = float(np.percentile(np.abs(flat), 99)) or float(np.abs(flat).max())
    if top == 0:
        blank(ax, "zero everywhere")
        return
    if signed:
        ax.imshow(flat, cmap="bwr", vmin=-top, vmax=top)
    else:
        ax.imshow(flat, cmap="inferno", vmin=0.0, vmax=top)
    blank(ax)


def top_k(ax, probs: np.ndarray, names: Sequence[str], label: int, k: int) -> None:
    """The ``k`` most probable classes as bars labelled with name and probability, the true one in green."""
    order = np.argsort(probs)[::-1][:k]
    ax.barh(np.arange(len(order)), probs[order], color=["#9bd39b" if c == label else "#d0d0d0" for c in order])
    for y, c in enumerate(order):
        ax.text(0.02, y, f"{class_name(names, int(c))} {probs[c]:.2f}", va="center", ha="left", fontsize=6)
    ax.set_ylim(len(order) - 0.5, -0.5)
    ax.set_xlim(0, 1)
    ax.set_yticks([])
    ax.tick_params(axis="x", labelsize=5)


def saliency_figure(results, path: str, adversarial: bool, top: int = 5) -> bool:
    """Draws saliency.png (or, with ``adversarial``, saliency_adversarial.png); False if nothing to draw."""
    names = results.class_names
    models = list(results.models.values())
    methods = results.methods
    rows = models[0].adversarial_rows if adversarial else results.rows
    if not rows:
        return False
    block = [1.0, 1.5] + [1.0] * len(methods)
    ratios = [w for b in range(len(models)) for w in ([0.25] if b else []) + block]
    fig = plt.figure(figsize=(1.5 * sum(ratios), 1.6 * len(rows) + 0.6))
    grid = fig.add_gridspec(len(rows), len(ratios), width_ratios=ratios, wspace=0.08, hspace=0.45)
    for b, res in enumerate(models):
        first = b * (len(block) + 1)
        store = res.saliency_adversarial if adversarial else res.saliency
        run = res.attacks[results.saliency_attack] if adversarial else None
        for r, index in enumerate(rows):
            label = int(results.labels[index])
            probs = res.adversarial_probs[r] if adversarial else res.probs[index]
            ax = fig.add_subplot(grid[r, first])
            show_image(ax, run.images[index] if adversarial else results.images[index])
            ax.set_title(f"{res.model.label}\ntrue: {class_name(names, label)}", fontsize=6,
                         color="black" if int(np.argmax(probs)) == label else "red")
            top_k(fig.add_subplot(grid[r, first + 1]), probs, names, label, top)
            for c, (method, explainer) in enumerate(methods.items()):
                ax = fig.add_subplot(grid[r, first + 2 + c])
                maps = store.get(method)
                if maps is None:
                    blank(ax, "needs the\nmodel's layers")
                else:
                    show_map(ax, maps[r], explainer.signed)
                if r == 0:
                    ax.set_title(method.replace("_", " "), fontsize=7)
    what = f"{results.saliency_attack} adversarial examples" if adversarial else "clean examples"
    fig.suptitle(f"Saliency of the {results.saliency_target} class's logit on {what}; top predictions with the true "
                 "class in green; signed maps red (+) / blue (-), others dark (0) to bright", fontsize=9)
    fig.subplots_adjust(left=0.05, right=0.99, top=1 - 0.75 / (1.6 * len(rows) + 0.6), bottom=0.03)
    save_figure(fig, path)
    return True


def activations_figure(results, path: str, channels: int) -> bool:
    """Draws activations.png; False if no model has layers to show."""
    names = results.class_names
    shown = [res for res in results.models.values() if res.activations]
    if not shown:
        return False
    columns: List[str] = max((list(next(iter(res.activations.values()))) for res in shown), key=len)
    heights = [1 + len(res.activations) for res in shown]
    fig, axes = plt.subplots(sum(heights), len(columns), squeeze=False,
                             figsize=(2.3 * len(columns), 2.3 * sum(heights) + 0.5))
    example = results.activation_example
    label = int(results.labels[example])
    top = 0
    for res in shown:
        first = next(iter(res.activations.values()))
        for c, column in enumerate(columns):
            ax = axes[top][c]
            if column not in first:
                blank(ax, f"{column}: example not attacked")
                continue
            image = results.images[example] if column == "clean" else res.attacks[column].images[example]
            predicted = (int(np.argmax(res.probs[example])) if column == "clean"
                         else int(res.attacks[column].predicted[example]))
            show_image(ax, image)
            eps = None if column == "clean" else res.attacks[column].epsilon
            title = column if eps is None else f"{column} eps {eps:g}"
            ax.set_title(f"{res.model.label}\n{title}: {class_name(names, predicted)}", fontsize=7,
                         color="black" if predicted == label else "red")
        for r, (layer, maps) in enumerate(res.activations.items(), start=1):
            present = [c for c in columns if c in maps]
            tiles = dict(zip(present, tile_together([maps[c] for c in present], channels)))
            for c, column in enumerate(columns):
                ax = axes[top + r][c]
                if column not in tiles:
                    blank(ax, "-")
                    continue
                ax.imshow(tiles[column], cmap=_TILES, vmin=0.0, vmax=1.0)
                blank(ax)
                k = maps[column].shape[-1]
                ax.set_title(f"{layer} ({min(k, channels)} of {k} channels)", fontsize=6)
        top += 1 + len(res.activations)
    fig.suptitle(f"Convolution-layer outputs for example {example} (true: {class_name(names, label)}); "
                 "one colour scale per channel across each row", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)
    return True
