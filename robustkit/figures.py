"""What every figure shares: matplotlib's file-only backend, atomic PNG writes, image panels."""

import io

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from robustkit import outputs  # noqa: E402


def save_png(fig, path: str, dpi: int = 110) -> None:
    """Writes ``fig`` to ``path`` as a PNG atomically, then closes it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    outputs.write_bytes(path, buffer.getvalue())


def show_image(ax, image: np.ndarray) -> None:
    """One image, uint8 or float in [0, 1], HWC (grey for one channel), without ticks."""
    image = np.asarray(image)
    image = image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32)
    if image.shape[-1] == 1:
        ax.imshow(image[..., 0], cmap="gray", vmin=0.0, vmax=1.0)
    else:
        ax.imshow(np.clip(image, 0.0, 1.0))
    ax.set_xticks([])
    ax.set_yticks([])
