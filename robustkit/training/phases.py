"""Fine-tuning in phases: which layers train, at which rate, for how long.

As in the Tiny-ImageNet classifier design: train the head of a pretrained
backbone first, then unfreeze its top layers, then more, each phase with its
own learning rate, moving on after a fixed number of epochs or when the
training loss plateaus. Phases change inside one ``fit`` call, so checkpoints,
``BackupAndRestore`` and the history see one continuous run; the epochs where
phases began are kept in ``<run.dir>/phases.json`` so that a resumed run knows
which phase it is in.
"""

import json
import logging
import os
from typing import List, Optional, Sequence

import tf_keras as keras

from robustkit import outputs
from robustkit.training.config import PhaseConfig

log = logging.getLogger(__name__)


def backbone_of(model: keras.Model) -> Optional[keras.Model]:
    """The nested model a classifier is built around (None if it has none)."""
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    return nested[0] if len(nested) == 1 else None


def set_trainable(model: keras.Model, spec: str) -> None:
    """Applies a phase's ``trainable`` spec: ``head``, ``top:N`` or ``all``.

    Without a nested backbone, every layer before the last weighted layer
    counts as the backbone. Frozen BatchNormalization layers run in inference
    mode (Keras's rule for ``trainable = False``).
    """
    model.trainable = True
    backbone = backbone_of(model)
    if backbone is not None:
        body, head = backbone.layers, [layer for layer in model.layers if layer is not backbone]
    else:
        weighted = [layer for layer in model.layers if layer.weights]
        body, head = weighted[:-1], weighted[-1:]
    for layer in head:
        layer.trainable = True
    if spec == "all":
        return
    keep = int(spec.split(":")[1]) if spec.startswith("top:") else 0
    frozen = body[: len(body) - keep] if keep < len(body) else []
    if backbone is not None and keep == 0:
        backbone.trainable = False
        return
    for layer in frozen:
        layer.trainable = False


class PhaseController(keras.callbacks.Callback):
    """Switches phases at epoch boundaries inside ``fit``.

    Args:
      phases: the phases in order.
      base_model: the classifier whose layers are frozen or unfrozen (the NSL
        wrapper shares its weights).
      state_path: where the epochs at which phases began are kept.
      write_state: whether this worker writes ``state_path`` (the chief).
      plateau_schedules: learning-rate schedules whose plateau tracking starts
        over with each phase (unfreezing layers raises the loss for a while).
    """

    def __init__(
        self,
        phases: Sequence[PhaseConfig],
        base_model: keras.Model,
        state_path: str,
        write_state: bool,
        plateau_schedules: Sequence[keras.callbacks.ReduceLROnPlateau] = (),
    ):
        super().__init__()
        self.plateau_schedules = list(plateau_schedules)
        self.phases = list(phases)
        self.base_model = base_model
        self.state_path = state_path
        self.write_state = write_state
        self.starts: List[int] = []
        self._applied: Optional[int] = None
        self._advance = False
        self._best = float("inf")
        self._wait = 0

    def on_train_begin(self, logs=None):
        if os.path.isfile(self.state_path):
            with open(self.state_path, encoding="utf-8") as f:
                self.starts = [int(e) for e in json.load(f)["phase_starts"]]
        self._applied = None

    def _phase_at(self, epoch: int) -> int:
        known = [i for i, start in enumerate(self.starts) if start <= epoch]
        return known[-1] if known else 0

    def on_epoch_begin(self, epoch, logs=None):
        # Starts recorded after this epoch belong to an interrupted future.
        self.starts = [s for s in self.starts if s <= epoch] or [epoch]
        index = self._phase_at(epoch)
        phase = self.phases[index]
        expired = phase.epochs is not None and epoch - self.starts[index] >= phase.epochs
        if (expired or self._advance) and index + 1 < len(self.phases):
            index += 1
            self.starts = self.starts[:index] + [epoch]
        self._advance = False
        if index != self._applied:
            self._apply(index, epoch)

    def _apply(self, index: int, epoch: int) -> None:
        phase = self.phases[index]
        set_trainable(self.base_model, phase.trainable)
        self.model.optimizer.learning_rate.assign(phase.learning_rate)
        # A new train function so that the new set of trainable weights is traced.
        self.model.train_function = self.model.make_train_function(force=True)
        self._applied = index
        self._best, self._wait = float("inf"), 0
        for schedule in self.plateau_schedules:
            schedule._reset()  # Keras's own reset of wait, cooldown and best.
        trainable = sum(int(v.shape.num_elements()) for v in self.base_model.trainable_weights)
        log.info(
            "epoch %d: phase %d/%d, trainable %s (%d weights), learning rate %g",
            epoch + 1, index + 1, len(self.phases), phase.trainable, trainable, phase.learning_rate,
        )
        if self.write_state:
            outputs.write_json(self.state_path, {"phase_starts": self.starts})

    def on_epoch_end(self, epoch, logs=None):
        phase = self.phases[self._applied or 0]
        loss = (logs or {}).get("loss")
        if not phase.until_plateau or loss is None:
            return
        if loss < self._best * (1.0 - phase.min_delta):
            self._best, self._wait = loss, 0
            return
        self._wait += 1
        if self._wait >= phase.patience:
            log.info("epoch %d: training loss plateaued at %.4f; next phase", epoch + 1, loss)
            self._advance = True


def prepare_optimizer(model: keras.Model, optimizer: keras.optimizers.Optimizer) -> None:
    """Builds the optimizer's slots for every weight that any phase may train.

    Keras's optimizers refuse variables they were not built with, and phases
    add trainable weights as they unfreeze layers.
    """
    set_trainable(model, "all")
    optimizer.build(model.trainable_variables)
