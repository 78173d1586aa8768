"""Figures of a VAE or CVAE run: image grids (traversals, samples, reconstructions) and loss curves."""

from typing import Dict, Optional, Sequence

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from robustkit.figures import save_png, show_image  # noqa: E402


def image_grid(rows: np.ndarray, path: str, title: str, row_labels: Optional[Sequence[str]] = None,
               col_labels: Optional[Sequence[str]] = None) -> None:
    """Writes images ``[R, C, H, W, channels]`` in [0, 1] as an R x C grid (atomically).

    Args:
      rows: the images, row by row.
      path: the PNG to write.
      title: the figure's title.
      row_labels: a label left of each row.
      col_labels: a label above each column.
    """
    rows = np.asarray(rows)
    n_rows, n_cols = rows.shape[:2]
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.0 * n_cols + 0.6, 1.0 * n_rows + 0.6), squeeze=False)
    for r in range(n_rows):
        for c in range(n_cols):
            ax = axes[r, c]
            image = rows[r, c]
            show_image(ax, image)
            if col_labels is not None and r == 0:
                ax.set_title(col_labels[c], fontsize=7)
            if row_labels is not None and c == 0:
                ax.set_ylabel(row_labels[r], fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    save_png(fig, path)


def loss_curves(history: Dict[str, Sequence[float]], path: str) -> None:
    """Writes one panel per logged term (loss, reconstruction, kl, ...), train and validation, per epoch."""
    terms = [k for k in ("loss", "reconstruction", "kl", "neg_elbo", "regulariser") if history.get(k)]
    fig, axes = plt.subplots(1, len(terms), figsize=(3.6 * len(terms), 3.4), squeeze=False)
    for ax, term in zip(axes[0], terms):
        for key, label in ((term, "train"), (f"val_{term}", "validation")):
            values = history.get(key)
            if values:
                ax.plot(range(1, len(values) + 1), values, marker="o", markersize=3, label=label)
        ax.set_xlabel("epoch")
        ax.set_title(term if term in ("loss", "regulariser") else f"{term} (nats)", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_png(fig, path)
