"""The "good" and "bad" images: the examples hardest and easiest to flip.

The two sets of images of "Visualizing Impact of Uncertainty and Adversarial
Attack on Deep Classifier Models".

Per example, the smallest epsilon of a grid at which an attack changes a
correct prediction (0 for an example misclassified already, infinity for one
no epsilon of the grid flips). The epsilons are tried in increasing order and
the first that flips counts, so an attack that is not monotone in epsilon
(FGSM can be) is still read correctly. "Good" images are the correctly
classified ones with the largest flipping epsilon, ties broken by the larger
clean logit margin; "bad" ones the correctly classified ones with the smallest,
ties broken by the smaller margin.
"""

import dataclasses
import logging
from typing import Callable, List, Optional, Sequence

import numpy as np
import tensorflow as tf

from robustkit.attacks.base import Attack

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Robustness:
    """What the search found.

    Attributes:
      epsilons: the grid.
      flip: per example, the smallest flipping epsilon (0: misclassified
        clean, inf: never flipped).
      margin: per example, the clean logit of the label minus the best other.
      accuracy: per epsilon, the fraction not flipped at that epsilon or below.
      good, bad: example positions, most and least robust first.
    """

    epsilons: List[float]
    flip: np.ndarray
    margin: np.ndarray
    accuracy: List[float]
    good: List[int]
    bad: List[int]


def margins(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The label's logit minus the best other logit, per example."""
    rows = np.arange(len(labels))
    own = logits[rows, labels]
    others = logits.copy()
    others[rows, labels] = -np.inf
    return own - others.max(axis=-1)


def rank(flip: np.ndarray, margin: np.ndarray, count: int):
    """(good, bad): positions of correctly classified examples, most and least robust first."""
    correct = np.flatnonzero(flip > 0)
    good = sorted(correct, key=lambda i: (-flip[i], -margin[i]))[:count]
    bad = sorted(correct, key=lambda i: (flip[i], margin[i]))[:count]
    return [int(i) for i in good], [int(i) for i in bad]


def search(attack: Attack, model, logits_of: Callable[[tf.Tensor], tf.Tensor], images: np.ndarray,
           labels: np.ndarray, epsilons: Sequence[float], batch_size: int, count: int,
           seed: int = 0, max_examples: Optional[int] = None) -> Robustness:
    """Finds each example's smallest flipping epsilon and the good and bad examples.

    Args:
      attack: a built attack with a radius.
      model: what the attack attacks (a Keras model or a loaded model).
      logits_of: images -> logits of the same model, deterministic.
      images, labels: the examples; only the first ``max_examples`` are searched.
      epsilons: the grid (sorted here).
      batch_size: examples per attack batch.
      count: good and bad examples returned, each.
      seed: seeds random starts.
    """
    n = len(labels) if max_examples is None else min(len(labels), max_examples)
    images, labels = images[:n], labels[:n]
    epsilons = sorted(float(e) for e in epsilons)
    logits = np.concatenate([logits_of(tf.constant(images[s:s + batch_size])).numpy()
                             for s in range(0, n, batch_size)])
    flip = np.where(np.argmax(logits, axis=-1) == labels, np.inf, 0.0)
    for index, epsilon in enumerate(epsilons):
        for batch, start in enumerate(range(0, n, batch_size)):
            part = slice(start, start + batch_size)
            todo = np.flatnonzero(np.isinf(flip[part])) + start
            if not todo.size:
                continue
            adversarial = attack(model, images[todo], labels[todo], epsilon=epsilon, seed=(seed, index * 10007 + batch))
            wrong = np.argmax(logits_of(adversarial).numpy(), axis=-1) != labels[todo]
            flip[todo[wrong]] = epsilon
        log.debug("epsilon %g: %d of %d examples flipped", epsilon, int(np.sum(flip <= epsilon)), n)
    margin = margins(logits, labels)
    good, bad = rank(flip, margin, count)
    accuracy = [float(np.mean(flip > e)) for e in epsilons]
    return Robustness(epsilons, flip, margin, accuracy, good, bad)
