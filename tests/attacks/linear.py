"""Linear classifiers whose minimal adversarial perturbation is known in closed form."""

import numpy as np

from tests.attacks import tiny


def boundary_distances(weights: np.ndarray, images: np.ndarray, labels: np.ndarray, norm: str) -> np.ndarray:
    """Distance of each image to the nearest decision boundary of logits = flatten(x) @ W.

    For class k the boundary is ``(w_y - w_k) . x' = 0``; its L-inf distance is
    ``margin / |w_y - w_k|_1`` and its L2 distance ``margin / |w_y - w_k|_2``
    (dual norms), valid while the box [0, 1] does not interfere.
    """
    flat = images.reshape(len(images), -1)
    logits = flat @ weights
    rows = np.arange(len(images))
    best = np.full(len(images), np.inf)
    for k in range(weights.shape[1]):
        diff = weights[:, labels] - weights[:, [k]]  # [D, N]
        size = np.abs(diff).sum(axis=0) if norm == "linf" else np.linalg.norm(diff, axis=0)
        distance = (logits[rows, labels] - logits[:, k]) / np.maximum(size, 1e-12)
        best = np.minimum(best, np.where(labels == k, np.inf, distance))
    return best


def examples(classes: int, norm: str, count: int = 24, seed: int = 1):
    """A linear model on 4x4x1 images and images near its boundaries, far from the box's faces.

    Returns (model, images, labels = the model's own predictions, distances).
    """
    model = tiny.linear_model(shape=(4, 4, 1), classes=classes, seed=seed)
    weights = model.get_weights()[0]
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.3, 0.7, size=(40 * count, 4, 4, 1)).astype("float32")
    y = np.argmax(x.reshape(len(x), -1) @ weights, axis=1).astype("int64")
    distance = boundary_distances(weights, x, y, norm)
    # An L-inf step of r moves a pixel by r; an L2 step of r by at most r: under 0.2 stays inside [0.1, 0.9].
    keep = np.flatnonzero((distance > 0.01) & (distance < (0.08 if norm == "linf" else 0.19)))[:count]
    assert len(keep) == count, "too few examples near the boundary"
    return model, x[keep], y[keep], distance[keep]
