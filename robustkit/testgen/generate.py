"""Label-preserving tests drawn within r of seed inputs, in a VAE's latent space or in pixel space.

The design (seed ``000_531d76e663229b4c``, deep learning testing at the feature
level) rests on r-separation (Yang et al., "A Closer Look at Accuracy vs.
Robustness", 2020): if differently labelled points lie at least 2r apart,
a point within r of a seed is nearer the seed than any point of another label,
so it keeps the seed's label. Here:

1. A seed is kept only if its nearest training point of another label lies at
   least 2r from it (in ``local`` mode r_s is half that distance, so this holds
   by construction).
2. Latent space: codes are drawn within ``scale * r`` of the seed's posterior
   mean, decoded, re-encoded, and a test is kept only when its re-encoded code
   is still closer than r to the seed's code. Pixel space: images are drawn
   within ``scale * r`` of the seed (clipped to [0, 1], which only brings them
   nearer) and checked the same way.
3. Every kept test carries its seed's label as ground truth.
"""

import dataclasses
import logging
from typing import Dict, Optional

import numpy as np

from robustkit import progress
from robustkit.separation.latent import VAECodec
from robustkit.testgen import sampling
from robustkit.testgen.config import SamplingConfig, SeedsConfig

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Tests:
    """Generated tests, in seed order.

    Attributes:
      images: float32 ``[M, H, W, C]`` in [0, 1].
      labels: int64 ``[M]``, their seeds' labels (the ground truth).
      seed_slots: int64 ``[M]``, the position of each test's seed among the seeds.
      distances: float64 ``[M]``, the checked distance to the seed (latent:
        re-encoded code to seed code; pixel: image to seed image).
      drawn_distances: float64 ``[M]``, how far from the seed the draw was made.
      drawn: int64 ``[S]``, candidates drawn per seed.
      accepted: int64 ``[S]``, candidates that passed the check per seed.
    """

    images: np.ndarray
    labels: np.ndarray
    seed_slots: np.ndarray
    distances: np.ndarray
    drawn_distances: np.ndarray
    drawn: np.ndarray
    accepted: np.ndarray


def select_seeds(labels: np.ndarray, options: SeedsConfig, rng: np.random.Generator,
                 correct: Optional[np.ndarray] = None) -> np.ndarray:
    """Rows of the evaluation split to seed from, sorted.

    Args:
      labels: the split's labels.
      options: how many and which (random, per_class, correct).
      rng: the generator.
      correct: bool ``[N]``, which rows the model under test gets right (for ``correct``).
    """
    rows = np.arange(len(labels))
    if options.select == "correct":
        if correct is None:
            raise ValueError("seeds.select = correct needs the model's predictions")
        rows = rows[correct]
    if options.select == "per_class":
        chosen = [rng.permutation(rows[labels == c])[:options.count] for c in np.unique(labels)]
        return np.sort(np.concatenate(chosen)) if chosen else rows[:0]
    return np.sort(rng.permutation(rows)[:options.count])


def _accept(passed: np.ndarray, owner: np.ndarray, accepted: np.ndarray, want: int) -> np.ndarray:
    """Which of this round's passing candidates are kept: in draw order, until a seed has ``want``."""
    keep = np.zeros(len(passed), bool)
    for i in np.flatnonzero(passed):
        if accepted[owner[i]] < want:
            keep[i] = True
            accepted[owner[i]] += 1
    return keep


def _generate(encode_draws, seed_count: int, dim: int, radius: np.ndarray, norm: str, options: SamplingConfig,
              scale: float, rng: np.random.Generator) -> Dict[str, np.ndarray]:
    """The draw-check-keep loop shared by both spaces; ``encode_draws(owner, offsets) -> (images, distances)``."""
    drawn = np.zeros(seed_count, np.int64)
    accepted = np.zeros(seed_count, np.int64)
    parts = []
    stage = progress.Stage("test generation", int(np.sum(radius > 0)) * options.per_seed, "tests")
    for attempt in range(options.attempts):
        need = np.flatnonzero((accepted < options.per_seed) & (radius > 0))
        if not len(need):
            break
        owner = np.repeat(need, options.per_seed)
        offsets = sampling.offsets(rng, len(owner), dim, scale * radius[owner], norm, options.distribution,
                                   options.sigma)
        images, distances = encode_draws(owner, offsets)
        np.add.at(drawn, owner, 1)
        keep = _accept(distances < radius[owner], owner, accepted, options.per_seed)
        parts.append((images[keep], owner[keep], distances[keep], sampling.norms(offsets[keep], norm)))
        stage.advance(int(np.sum(keep)), {"draws": attempt + 1})
    stage.close()
    order = np.argsort(np.concatenate([p[1] for p in parts]), kind="stable") if parts else np.zeros(0, int)

    def joined(i, empty):
        return np.concatenate([p[i] for p in parts])[order] if parts else empty

    return {"images": joined(0, np.zeros((0, 1, 1, 1), np.float32)).astype(np.float32),
            "seed_slots": joined(1, np.zeros(0, np.int64)).astype(np.int64),
            "distances": joined(2, np.zeros(0)), "drawn_distances": joined(3, np.zeros(0)),
            "drawn": drawn, "accepted": accepted}


def latent_tests(codec: VAECodec, seed_codes: np.ndarray, seed_labels: np.ndarray, radius: np.ndarray, norm: str,
                 options: SamplingConfig, scale: float, rng: np.random.Generator) -> Tests:
    """Tests decoded from codes within ``scale * radius`` of each seed's code, re-encoded within ``radius``.

    Args:
      codec: the VAE.
      seed_codes: float32 ``[S, k]`` posterior means of the seeds.
      seed_labels: ``[S]``.
      radius: float64 ``[S]``, each seed's r (0: skip the seed).
      norm: l2 or linf.
      options: the sampling section.
      scale: draws are made within ``scale * radius``.
      rng: the generator.
    """
    def encode_draws(owner, offsets):
        images = codec.decode(seed_codes[owner] + offsets)
        codes = codec.encode(images)[0]
        return images, sampling.norms(codes.astype(np.float64) - seed_codes[owner], norm)

    out = _generate(encode_draws, len(seed_codes), seed_codes.shape[1], radius, norm, options, scale, rng)
    if not len(out["images"]):
        out["images"] = np.zeros((0,) + codec.image_shape, np.float32)
    return Tests(labels=np.asarray(seed_labels, np.int64)[out["seed_slots"]], **out)


def pixel_tests(seed_images: np.ndarray, seed_labels: np.ndarray, radius: np.ndarray, norm: str,
                options: SamplingConfig, scale: float, rng: np.random.Generator) -> Tests:
    """Tests drawn within ``scale * radius`` of each seed image (pixel units of [0, 1]), clipped to [0, 1]."""
    seeds = seed_images.astype(np.float64) / 255.0 if seed_images.dtype == np.uint8 else seed_images.astype(
        np.float64)
    shape = seeds.shape[1:]

    def encode_draws(owner, offsets):
        images = np.clip(seeds[owner] + offsets.reshape((len(owner),) + shape), 0.0, 1.0).astype(np.float32)
        return images, sampling.norms(images.astype(np.float64) - seeds[owner], norm)

    out = _generate(encode_draws, len(seeds), int(np.prod(shape)), radius, norm, options, scale, rng)
    if not len(out["images"]):
        out["images"] = np.zeros((0,) + shape, np.float32)
    return Tests(labels=np.asarray(seed_labels, np.int64)[out["seed_slots"]], **out)
