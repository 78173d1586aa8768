"""A trained VAE's latent space, loaded from its export with TensorFlow alone.

`robustkit.generative.export` saves a VAE (Kingma & Welling, 2014) with
``encode`` (image -> posterior ``mean``, ``stddev``) and ``decode`` (z ->
image) functions and ``assets/generative.json``; this module loads such an
export and runs it in batches on numpy arrays. Separation is measured between
posterior means (the codes the feature-level test-generation design works in).
"""

import json
import logging
import os
from typing import Any, Dict, Tuple

import numpy as np
import tensorflow as tf

from robustkit.errors import UserError
from robustkit.models.paths import ModelPathError, resolve_model_path

log = logging.getLogger(__name__)


class LatentError(UserError, ValueError):
    """A path that holds no VAE export, or images it cannot encode."""


class VAECodec:
    """Encodes images to posterior means and decodes latent codes, in batches.

    Args:
      path: a VAE export version directory, or its model root (the highest
        version is used), as ``python -m robustkit.train`` with ``task: vae``
        prints it.
      batch_size: images per call.

    Attributes:
      path: the version directory loaded.
      latent_dim: the size of a code.
      image_shape: ``(H, W, C)`` of the images it encodes and decodes.
      description: the export's ``assets/generative.json``.
    """

    def __init__(self, path: str, batch_size: int = 500):
        try:
            self.path = resolve_model_path(path, what="vae")
        except ModelPathError as err:
            raise LatentError(str(err)) from None
        description_path = os.path.join(self.path, "assets", "generative.json")
        if not os.path.isfile(description_path):
            raise LatentError(f"vae path {self.path!r} has no assets/generative.json; pass the export of a "
                              "`python -m robustkit.train` run with task: vae (it prints 'exported: <path>')")
        with open(description_path, encoding="utf-8") as f:
            self.description: Dict[str, Any] = json.load(f)
        if self.description.get("task") != "vae":
            raise LatentError(f"vae path {self.path!r} holds a {self.description.get('task')!r} export; "
                              "expected task: vae (a CVAE's latent space is conditional on its input)")
        self._loaded = tf.saved_model.load(self.path)
        for name in ("encode_fn", "decode_fn"):
            if not hasattr(self._loaded, name):
                raise LatentError(f"vae path {self.path!r} has no {name}; re-export it with robustkit.generative")
        self.latent_dim = int(self.description["latent_dim"])
        self.image_shape: Tuple[int, int, int] = tuple(int(d) for d in self.description["image_shape"])
        self.batch_size = int(batch_size)

    def check_images(self, image_shape) -> None:
        """Fails unless images of ``image_shape`` are what the VAE encodes."""
        if tuple(image_shape) != self.image_shape:
            raise LatentError(f"the VAE at {self.path} encodes {self.image_shape} images; the data has "
                              f"{tuple(image_shape)}")

    def encode(self, images: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """float images ``[N, H, W, C]`` in [0, 1] (or uint8) -> posterior means and stddevs, float32 ``[N, k]``."""
        images = np.asarray(images)
        if images.dtype == np.uint8:
            images = images.astype(np.float32) / 255.0
        self.check_images(images.shape[1:])
        means, stds = [], []
        for start in range(0, len(images), self.batch_size):
            out = self._loaded.encode_fn(tf.constant(images[start:start + self.batch_size], tf.float32))
            means.append(out["mean"].numpy())
            stds.append(out["stddev"].numpy())
        if not means:
            return np.zeros((0, self.latent_dim), np.float32), np.zeros((0, self.latent_dim), np.float32)
        return np.concatenate(means), np.concatenate(stds)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Latent codes ``[N, k]`` -> the images they decode to, float32 ``[N, H, W, C]`` in [0, 1]."""
        codes = np.asarray(codes, np.float32)
        if codes.ndim != 2 or codes.shape[1] != self.latent_dim:
            raise ValueError(f"codes must be [N, {self.latent_dim}], got {codes.shape}")
        images = [self._loaded.decode_fn(tf.constant(codes[start:start + self.batch_size]))["image"].numpy()
                  for start in range(0, len(codes), self.batch_size)]
        return np.concatenate(images) if images else np.zeros((0,) + self.image_shape, np.float32)
