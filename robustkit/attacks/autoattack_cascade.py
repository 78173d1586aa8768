"""AutoAttack: the cascade of Croce and Hein (2020) that RobustBench reports.

Croce and Hein (2020), "Reliable evaluation of adversarial robustness with an
ensemble of diverse parameter-free attacks", ICML. Each stage runs only on the
examples every earlier stage left correctly classified; an example counts as
robust only if no stage fooled it (the per-example worst case), and the robust
accuracy after every stage is recorded.

Versions (as the reference implementation defines them):

- ``standard``: APGD-CE, APGD-T (targeted DLR, ``n_target_classes`` targets),
  FAB-T (``n_target_classes`` targets), Square (``square_queries`` queries);
  one restart each.
- ``plus``: APGD-CE and APGD-DLR with 5 restarts, untargeted FAB with 5
  restarts, Square, APGD-T, FAB-T.
- ``rand``: for randomised models: APGD-CE and APGD-DLR with expectation over
  transformation (``eot_iter`` gradient draws per step, 20).

With fewer than 4 classes the targeted DLR loss does not exist: APGD-T uses
targeted cross-entropy, and with fewer than 3 APGD-DLR uses cross-entropy
(the sanity checks say so). Targets are capped at the number of classes - 1.

Example:
  >>> attack = autoattack(AutoAttackConfig(epsilons=[0.1], version="standard"))
  >>> result = attack.run(model, images, labels, epsilon=0.1, seed=(0, 1), batch_size=256)
  >>> result.stages  # [("apgd-ce", 0.62, 31.0), ("apgd-t", 0.58, 80.2), ...]
"""

import dataclasses
import logging
import time
from typing import Dict, List, Optional, Tuple

import numpy as np
import tensorflow as tf

from robustkit.attacks import base
from robustkit.attacks.apgd_attack import Apgd, ApgdConfig
from robustkit.attacks.autoattack_options import VERSIONS, AutoAttackConfig  # noqa: F401  (VERSIONS re-exported)
from robustkit.attacks.fab_attack import Fab, FabConfig
from robustkit.attacks.square_attack import Square, SquareConfig

log = logging.getLogger(__name__)


def stage_attacks(options: AutoAttackConfig) -> List[Tuple[str, base.Attack]]:
    """The stages of ``options.version``, in order, as (name, attack)."""
    common = dict(norm=options.norm, epsilons=list(options.epsilons))
    n, iters = options.n_target_classes, options.iterations

    def apgd(loss="ce", targeted=False, restarts=1, eot=1):
        return Apgd(ApgdConfig(name="apgd", loss=loss, targeted=targeted, n_target_classes=n, iterations=iters,
                               restarts=restarts, eot_iter=eot, **common))

    def fab(targeted, restarts=1):
        return Fab(FabConfig(name="fab", targeted=targeted, n_target_classes=n, iterations=iters,
                             restarts=restarts, **common))

    square = Square(SquareConfig(name="square", queries=options.square_queries, **common))
    if options.version == "standard":
        return [("apgd-ce", apgd()), ("apgd-t", apgd(targeted=True)), ("fab-t", fab(True)), ("square", square)]
    if options.version == "plus":
        return [("apgd-ce", apgd(restarts=5)), ("apgd-dlr", apgd("dlr", restarts=5)), ("fab", fab(False, 5)),
                ("square", square), ("apgd-t", apgd(targeted=True)), ("fab-t", fab(True))]
    return [("apgd-ce", apgd(eot=options.eot_iter)), ("apgd-dlr", apgd("dlr", eot=options.eot_iter))]


@dataclasses.dataclass
class CascadeResult:
    """What one AutoAttack run measured.

    Attributes:
      adversarial: per example, the first stage's adversarial image that fooled
        the model, else the clean image.
      clean: whether each example was classified correctly before any attack.
      robust: whether each example survived every stage.
      stages: per stage, in order: ``{stage, accuracy, fooled, examples, seconds}``
        (accuracy over all examples after the stage, examples it fooled, examples
        it attacked, seconds spent).
      fooled_by: per example, the stage that fooled it ("" if none; "clean" if
        misclassified without attack).
    """

    adversarial: np.ndarray
    clean: np.ndarray
    robust: np.ndarray
    stages: List[Dict[str, object]]
    fooled_by: np.ndarray


class AutoAttack(base.Attack):
    """The cascade: see the module docstring."""

    def __init__(self, options: AutoAttackConfig):
        super().__init__(options)
        self.norm = options.norm
        self.stages = stage_attacks(options)
        self.last: Optional[CascadeResult] = None

    def describe(self) -> str:
        return (f"{self.options.name} ({self.norm}, {self.options.version}: "
                f"{', '.join(name for name, _ in self.stages)})")

    def generate(self, model, images, labels, epsilon, seed):
        self.last = self.run(model, images.numpy(), labels.numpy(), epsilon, seed, batch_size=len(images))
        return tf.constant(self.last.adversarial)

    def run(self, model, images: np.ndarray, labels: np.ndarray, epsilon: float, seed: base.Seed = (0, 0),
            batch_size: int = 256) -> CascadeResult:
        """Runs every stage on the examples still classified correctly, in batches of ``batch_size``."""
        images = np.asarray(images, np.float32)
        labels = np.asarray(labels, np.int64)
        if self.options.seed is not None:
            seed = (self.options.seed, seed[1])
        predict = _predictor(model)
        clean = np.concatenate([predict(images[s]) for s in _slices(len(images), batch_size)]) == labels
        robust = clean.copy()
        adversarial = images.copy()
        fooled_by = np.where(clean, "", "clean").astype(object)
        stages = []
        for index, (name, attack) in enumerate(self.stages):
            start = time.perf_counter()
            todo = np.flatnonzero(robust)
            fooled = 0
            if epsilon > 0:
                for batch, part in enumerate(_slices(len(todo), batch_size)):
                    chosen = todo[part]
                    adv = attack(model, images[chosen], labels[chosen], epsilon=epsilon,
                                 seed=(seed[0], seed[1] * 1009 + index * 100_003 + batch)).numpy()
                    wrong = predict(adv) != labels[chosen]
                    hit = chosen[wrong]
                    adversarial[hit], robust[hit], fooled_by[hit] = adv[wrong], False, name
                    fooled += int(wrong.sum())
            seconds = time.perf_counter() - start
            stages.append({"stage": name, "accuracy": float(np.mean(robust)), "fooled": fooled,
                           "examples": int(len(todo)), "seconds": seconds})
            log.info("autoattack %s at epsilon %g: robust accuracy %.4f (%d of %d attacked fooled, %.1fs)",
                     name, epsilon, np.mean(robust), fooled, len(todo), seconds)
        return CascadeResult(adversarial=adversarial, clean=clean, robust=robust, stages=stages,
                             fooled_by=fooled_by)


def _predictor(model):
    logits_of = base.logits_fn(model)
    fn = tf.function(lambda x: tf.argmax(logits_of(x), axis=-1), reduce_retracing=True)
    return lambda x: fn(tf.constant(x, tf.float32)).numpy()


def _slices(count: int, size: int):
    return [slice(start, min(start + size, count)) for start in range(0, count, size)]


def autoattack(options: AutoAttackConfig) -> AutoAttack:
    """The AutoAttack cascade of ``options.version``."""
    return AutoAttack(options)
