"""The training-curves figure: loss and accuracy, train and validation, phase changes."""

from typing import Dict, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from robustkit.figures import save_png  # noqa: E402


def training_curves(history: Dict[str, Sequence[float]], phase_starts: Sequence[int], path: str) -> None:
    """Writes loss and accuracy per epoch, with a dashed line where each later phase began.

    Args:
      history: Keras history (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``,
        and with NSL ``sparse_categorical_crossentropy``).
      phase_starts: the epochs (0-based) at which phases began.
      path: the PNG to write (atomically).
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    # With NSL, "loss" includes the adversarial term; plot the classification loss.
    loss = "sparse_categorical_crossentropy" if "sparse_categorical_crossentropy" in history else "loss"
    for ax, metric, title in zip(axes, (loss, "accuracy"), ("classification loss", "accuracy")):
        for key, label in ((metric, "train"), (f"val_{metric}", "validation")):
            values = history.get(key)
            if values:
                ax.plot(range(1, len(values) + 1), values, marker="o", markersize=3, label=label)
        for start in phase_starts[1:]:
            ax.axvline(start + 0.5, color="grey", linestyle="--", linewidth=1)
        ax.set_xlabel("epoch")
        ax.set_ylabel(title)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    if len(phase_starts) > 1:
        fig.suptitle("dashed lines: fine-tuning phase changes")
    fig.tight_layout()
    save_png(fig, path)
