"""The MNIST-C corruptions (Mu & Gilmer, "MNIST-C: A Robustness Benchmark for Computer Vision", 2019).

Written with numpy and scipy only, for any grayscale images (28x28 in MNIST-C).
The names and default severities are those of TFDS's ``mnist_corrupted``
configs, so a corruption applied here to Fashion-MNIST gives pairs of the kind
``mnist_corrupted`` holds for MNIST. Geometric corruptions keep the image
centre fixed; pixels that come from outside the image are black.

Randomness: the image with index ``i`` in its data set draws from
``numpy.random.default_rng([seed, i])``, so a corrupted image depends only on
the seed, its index and the image, not on how the data set is cut into chunks.

Images are uint8 in [0, 255] or floats in [0, 1], shaped ``[N, H, W]`` or
``[N, H, W, 1]``; results have the input's shape and dtype (uint8 results are
rounded, like the PNG-encoded images of ``mnist_corrupted``).
"""

from typing import Callable, Dict, Optional, Sequence, Union

import numpy as np
from scipy import ndimage

from robustkit.data.options import DEFAULT_SEVERITY

Corruption = Callable[[np.ndarray, np.random.Generator, int], np.ndarray]

# Severity tables of MNIST-C, indexed by severity - 1; the defaults are MNIST-C's choices.
_SHOT = (60.0, 25.0, 12.0, 5.0, 3.0)
_IMPULSE = (0.03, 0.06, 0.09, 0.17, 0.27)
_GLASS = ((0.7, 1, 2), (0.9, 2, 1), (1.0, 2, 3), (1.1, 3, 2), (1.5, 4, 2))  # sigma, max shift, passes
_MOTION = ((10, 3.0), (15, 5.0), (15, 8.0), (15, 12.0), (20, 15.0))  # radius, sigma
_AFFINE = (0.2, 0.4, 0.6, 0.8, 1.0)  # shear and rotation (radians)
_SCALE = (0.9, 0.8, 0.7, 0.6, 0.5)
_BRIGHTNESS = (0.1, 0.2, 0.3, 0.4, 0.5)
_FOG = ((1.5, 2.0), (2.0, 2.0), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4))  # amount, roughness decay
_SPATTER = ((0.65, 0.3, 4, 0.69, 0.6), (0.65, 0.3, 3, 0.68, 0.6), (0.65, 0.3, 2, 0.68, 0.5),
            (0.65, 0.3, 1, 0.65, 1.5), (0.67, 0.4, 1, 0.65, 1.5))  # mean, std, blur, threshold, mask blur


def _centre(shape) -> np.ndarray:
    return (np.asarray(shape[:2], np.float64) - 1.0) / 2.0


def _warp(x: np.ndarray, matrix_xy: np.ndarray, shift_xy=(0.0, 0.0)) -> np.ndarray:
    """output(p) = input(A (p - c) + c + shift) in (x = column, y = row) coordinates, bilinear."""
    a = np.asarray(matrix_xy, np.float64)
    matrix_rc = np.array([[a[1, 1], a[1, 0]], [a[0, 1], a[0, 0]]])
    centre = _centre(x.shape)
    offset = centre - matrix_rc @ centre + np.array([shift_xy[1], shift_xy[0]], np.float64)
    return ndimage.affine_transform(x, matrix_rc, offset=offset, order=1, mode="constant", cval=0.0)


def rotate_image(x: np.ndarray, degrees: float) -> np.ndarray:
    """Rotates one float image about its centre: ``scipy.ndimage.rotate`` without reshaping."""
    return ndimage.rotate(x, degrees, reshape=False, order=1, mode="constant", cval=0.0)


def _line(shape, c0: float, r0: float, c1: float, r1: float) -> np.ndarray:
    """An anti-aliased line from column c0 to c1: intensity 1 + log(1 - d / 2.3) at row distance d."""
    height, width = shape[:2]
    if c1 <= c0:
        return np.zeros(shape[:2])
    rows = np.arange(height, dtype=np.float64)[:, None]
    cols = np.arange(width, dtype=np.float64)[None, :]
    slope = (r1 - r0) / (c1 - c0)
    distance = np.minimum(np.abs(rows - (slope * (cols - c0) + r0)), 2.3 - 1e-10)
    line = np.clip(np.log(1.0 - distance / 2.3) + 1.0, 0.0, 1.0)
    line[:, : int(np.floor(c0))] = 0.0
    line[:, int(np.ceil(c1)):] = 0.0
    return line


def _plasma(size: int, decay: float, rng: np.random.Generator) -> np.ndarray:
    """A diamond-square height map of ``size`` x ``size`` (a power of two), scaled to [0, 1]."""
    grid = np.zeros((size, size))
    step, wibble = size, 100.0
    while step >= 2:
        half = step // 2
        corners = grid[0:size:step, 0:size:step]
        square = corners + np.roll(corners, -1, axis=0)
        square = square + np.roll(square, -1, axis=1)
        grid[half:size:step, half:size:step] = square / 4 + wibble * rng.uniform(-wibble, wibble, square.shape)
        centres = grid[half:size:step, half:size:step]
        corners = grid[0:size:step, 0:size:step]
        left = centres + np.roll(centres, 1, axis=0) + corners + np.roll(corners, -1, axis=1)
        grid[0:size:step, half:size:step] = left / 4 + wibble * rng.uniform(-wibble, wibble, left.shape)
        top = centres + np.roll(centres, 1, axis=1) + corners + np.roll(corners, -1, axis=0)
        grid[half:size:step, 0:size:step] = top / 4 + wibble * rng.uniform(-wibble, wibble, top.shape)
        step, wibble = half, wibble / decay
    grid -= grid.min()
    return grid / grid.max()


def identity(x, rng, severity):
    return x


def shot_noise(x, rng, severity=5):
    """Poisson noise: photon counts with ``c`` photons at full brightness."""
    c = _SHOT[severity - 1]
    return rng.poisson(x * c) / c


def impulse_noise(x, rng, severity=4):
    """Salt and pepper: a share of the pixels set to 0 or 1, half each."""
    hit = rng.random(x.shape) < _IMPULSE[severity - 1]
    salt = rng.random(x.shape) < 0.5
    return np.where(hit, salt.astype(np.float64), x)


def glass_blur(x, rng, severity=1):
    """Gaussian blur, then each interior pixel swapped with a near one at random, then blur again."""
    sigma, delta, passes = _GLASS[severity - 1]
    height, width = x.shape
    y = np.floor(ndimage.gaussian_filter(x, sigma, mode="nearest") * 255.0) / 255.0
    for _ in range(passes):
        rows = range(height - delta, delta, -1)
        cols = range(width - delta, delta, -1)
        coins = rng.random((len(rows), len(cols))) < 0.5
        shifts = rng.integers(-delta, delta, size=(len(rows), len(cols), 2))
        for i, h in enumerate(rows):
            for j, w in enumerate(cols):
                if coins[i, j]:
                    dx, dy = shifts[i, j]
                    y[h, w], y[h + dy, w + dx] = y[h + dy, w + dx], y[h, w]
    return ndimage.gaussian_filter(y, sigma, mode="nearest")


def motion_blur(x, rng, severity=1):
    """A one-sided Gaussian-weighted blur along a random direction within 45 degrees of horizontal."""
    radius, sigma = _MOTION[severity - 1]
    angle = np.deg2rad(rng.uniform(-45.0, 45.0))
    steps = np.arange(2 * radius + 1, dtype=np.float64)
    weights = np.exp(-(steps ** 2) / (2.0 * sigma ** 2))
    out = np.zeros_like(x)
    for step, weight in zip(steps, weights):
        shift = (step * np.sin(angle), step * np.cos(angle))  # rows, columns
        out += weight * ndimage.shift(x, shift, order=1, mode="nearest")
    return out / weights.sum()


def shear(x, rng, severity=2):
    """A horizontal shear by an angle of +-c radians (random sign)."""
    c = _AFFINE[severity - 1] * rng.choice([-1.0, 1.0])
    return _warp(x, [[1.0, -np.sin(c)], [0.0, np.cos(c)]])


def scale(x, rng, severity=3):
    """Zooms out by a factor (0.7 at the default severity)."""
    factor = 1.0 / _SCALE[severity - 1]
    return _warp(x, np.diag([factor, factor]))


def rotate(x, rng, severity=2):
    """Rotation by +-c radians (random sign)."""
    return rotate_image(x, np.rad2deg(_AFFINE[severity - 1] * rng.choice([-1.0, 1.0])))


def translate(x, rng, severity=3):
    """A shift by c pixels along each axis, each with a random sign."""
    c = float(severity)
    dx, dy = c * rng.choice([-1.0, 1.0], size=2)
    return _warp(x, np.eye(2), (dx, dy))


def brightness(x, rng, severity=5):
    """Raises the HSV value; for gray pixels that adds c to the intensity."""
    return x + _BRIGHTNESS[severity - 1]


def stripe(x, rng, severity):
    """Inverts the left and right quarters of the image."""
    quarter = x.shape[1] // 4
    y = x.copy()
    y[:, :quarter] = 1.0 - y[:, :quarter]
    y[:, x.shape[1] - quarter:] = 1.0 - y[:, x.shape[1] - quarter:]
    return y


def fog(x, rng, severity=5):
    """Adds a plasma-fractal haze and rescales to the image's brightest value."""
    amount, decay = _FOG[severity - 1]
    size = 256 if max(x.shape) <= 256 else 1 << int(np.ceil(np.log2(max(x.shape))))
    top = x.max()
    y = x + amount * _plasma(size, decay, rng)[: x.shape[0], : x.shape[1]]
    return y * top / (top + amount)


def spatter(x, rng, severity=4):
    """Gray mud blobs where smoothed noise exceeds a threshold."""
    mean, std, blur, threshold, mask_blur = _SPATTER[severity - 1]
    liquid = ndimage.gaussian_filter(rng.normal(mean, std, x.shape), blur, mode="nearest")
    mask = ndimage.gaussian_filter((liquid > threshold).astype(np.float64), mask_blur, mode="nearest")
    mask[mask < 0.8] = 0.0
    return x * (1.0 - mask) + (63.0 / 255.0) * mask


def dotted_line(x, rng, severity):
    """A bright line across the image at random heights, drawn in dashes of two columns."""
    width = x.shape[1]
    r0, r1 = rng.integers(0, x.shape[0] - 1, size=2)
    line = _line(x.shape, 0.0, float(r0), float(width - 1), float(r1))
    for start in range(0, width, 4):
        line[:, start:start + 2] = 0.0
    return x + line


def zigzag(x, rng, severity):
    """A bright zigzag (segments 2 pixels long, 2 pixels out) along a random, slightly tilted line."""
    height, width = x.shape
    c0, c1 = 2.0, float(width - 3)
    r0 = float(rng.integers(0, height - 1))
    r1 = r0 + float(rng.integers(-5, 5))
    theta = np.arctan((r1 - r0) / (c1 - c0))
    length = (c1 - c0) / np.cos(theta)
    along = [0.0] + list(np.arange(2.0, length, 4.0)) + [length]
    across = [0.0] + [2.0 * (-1) ** k for k in range(len(along) - 2)] + [0.0]
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    cols, rows = rotation @ np.array([along, across])
    y = x.copy()
    for k in range(1, len(cols)):
        y = np.clip(y + _line(x.shape, cols[k - 1] + c0, rows[k - 1] + r0, cols[k] + c0, rows[k] + r0), 0.0, 1.0)
    return y


def canny_edges(x, rng, severity, sigma: float = 1.0, low: float = 0.1, high: float = 0.2):
    """The image replaced by its Canny edges (Canny, 1986): smooth, Sobel, thin, hysteresis."""
    smooth = ndimage.gaussian_filter(x, sigma, mode="constant")
    gy, gx = ndimage.sobel(smooth, axis=0), ndimage.sobel(smooth, axis=1)
    magnitude = np.hypot(gx, gy)
    direction = (np.round(np.arctan2(gy, gx) / (np.pi / 4)) % 4).astype(int)  # 0: -, 1: \, 2: |, 3: /
    offsets = {0: (0, 1), 1: (1, 1), 2: (1, 0), 3: (1, -1)}
    padded = np.pad(magnitude, 1)
    height, width = x.shape
    thin = np.zeros_like(magnitude, dtype=bool)
    for d, (dr, dc) in offsets.items():
        ahead = padded[1 + dr:1 + dr + height, 1 + dc:1 + dc + width]
        behind = padded[1 - dr:1 - dr + height, 1 - dc:1 - dc + width]
        thin |= (direction == d) & (magnitude >= ahead) & (magnitude >= behind)
    thin[[0, -1], :] = False
    thin[:, [0, -1]] = False
    weak = thin & (magnitude >= low)
    labels, count = ndimage.label(weak, structure=np.ones((3, 3)))
    strong = np.unique(labels[weak & (magnitude >= high)])
    return np.isin(labels, strong[strong > 0]).astype(np.float64)


CORRUPTIONS: Dict[str, Corruption] = {
    "identity": identity, "shot_noise": shot_noise, "impulse_noise": impulse_noise, "glass_blur": glass_blur,
    "motion_blur": motion_blur, "shear": shear, "scale": scale, "rotate": rotate, "brightness": brightness,
    "translate": translate, "stripe": stripe, "fog": fog, "spatter": spatter, "dotted_line": dotted_line,
    "zigzag": zigzag, "canny_edges": canny_edges,
}  # Keys in the order of `robustkit.data.options.CORRUPTION_NAMES`, which configs validate against.


def names() -> Sequence[str]:
    """The corruption names, in ``mnist_corrupted``'s order."""
    return list(CORRUPTIONS)


def _as_float(images: np.ndarray) -> np.ndarray:
    if images.dtype == np.uint8:
        return images.astype(np.float64) / 255.0
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(f"images must be uint8 or float in [0, 1], got {images.dtype}")
    return images.astype(np.float64)


def _restore(result: np.ndarray, dtype) -> np.ndarray:
    result = np.clip(result, 0.0, 1.0)
    if dtype == np.uint8:
        return np.rint(result * 255.0).astype(np.uint8)
    return result.astype(dtype)


def _planes(images: np.ndarray) -> np.ndarray:
    if images.ndim == 4 and images.shape[-1] == 1:
        return images[..., 0]
    if images.ndim != 3:
        raise ValueError(f"expected grayscale images [N, H, W] or [N, H, W, 1], got shape {images.shape}")
    return images


def corrupt(images: np.ndarray, name: str, seed: int = 0, severity: Optional[int] = None,
            indices: Optional[Sequence[int]] = None) -> np.ndarray:
    """Applies one MNIST-C corruption to every image of a batch.

    Args:
      images: uint8 or float in [0, 1], ``[N, H, W]`` or ``[N, H, W, 1]``.
      name: one of `names()`.
      seed: with each example's index, determines all randomness.
      severity: 1 to 5 for corruptions that have severities (None: MNIST-C's);
        must be None for the others.
      indices: each image's index in the whole data set (None: 0, 1, 2, ...).

    Returns:
      The corrupted images, with the input's shape and dtype.

    Raises:
      ValueError: for an unknown name, a severity outside 1..5 or for a corruption without
        severities, or a bad shape.
    """
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; known corruptions: {', '.join(CORRUPTIONS)}")
    if severity is not None and name not in DEFAULT_SEVERITY:
        raise ValueError(f"corruption {name!r} has no severities (MNIST-C applies it one way); leave severity "
                         f"null, or choose one of {', '.join(DEFAULT_SEVERITY)}")
    severity = DEFAULT_SEVERITY.get(name, 1) if severity is None else severity
    if not 1 <= severity <= 5:
        raise ValueError(f"corruption severity {severity} must lie in 1..5")
    images = np.asarray(images)
    planes = _planes(images)
    floats = _as_float(planes)
    out = np.empty_like(floats)
    function = CORRUPTIONS[name]
    indices = np.arange(len(floats)) if indices is None else np.asarray(indices)
    if indices.shape != (len(floats),) or (indices < 0).any():
        raise ValueError(f"indices must be {len(floats)} non-negative integers, got shape {indices.shape}")
    for i, plane in enumerate(floats):
        out[i] = function(plane, np.random.default_rng([seed, int(indices[i])]), severity)
    return _restore(out, images.dtype).reshape(images.shape)


def rotate_batch(images: np.ndarray, degrees: Union[float, np.ndarray]) -> np.ndarray:
    """Rotates each image about its centre by its angle (`rotate_image`), keeping shape and dtype.

    Args:
      images: uint8 or float in [0, 1], ``[N, H, W]`` or ``[N, H, W, 1]``.
      degrees: one angle for all images, or one per image (counter-clockwise).
    """
    images = np.asarray(images)
    planes = _as_float(_planes(images))
    angles = np.broadcast_to(np.asarray(degrees, np.float64), (len(planes),))
    out = np.stack([rotate_image(p, a) for p, a in zip(planes, angles)]) if len(planes) else planes
    return _restore(out, images.dtype).reshape(images.shape)
