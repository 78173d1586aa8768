"""Batch-by-batch evaluation work spread over the replicas of a `tf.distribute` strategy.

The evaluation tools (attacks, explanations, test generation, separation) work
batch by batch, and each batch's result depends only on the batch and its seed.
`BatchMap` keeps that unit: with ``R`` replicas it hands ``R`` consecutive
batches to the ``R`` replicas at once (MirroredStrategy: one per local GPU;
MultiWorkerMirroredStrategy: the batches of a group are spread over every
worker's devices, so the examples are sharded over workers), and every replica
computes exactly what one device computes for that batch with that seed. So the
results are identical on one device and on many, and only the wall time
changes. Under MultiWorkerMirroredStrategy every batch's result is gathered to
every worker (`tf.distribute.Strategy.gather`); the chief writes the outputs.

The last group of a pass may have fewer batches than replicas: the idle
replicas repeat the group's last batch and their results are dropped.
"""

import logging
from typing import Any, Callable, Iterable, Iterator, List, Optional, Sequence

import numpy as np
import tensorflow as tf

log = logging.getLogger(__name__)

_GATHERABLE = (tf.float16, tf.float32, tf.float64, tf.int32, tf.int64)


class BatchMap:
    """Runs ``fn(*batch)`` for many batches, one batch per replica at a time.

    Args:
      strategy: the strategy whose replicas share the work (None: the default
        strategy, one device).
    """

    def __init__(self, strategy: Optional[tf.distribute.Strategy] = None):
        self.strategy = strategy or tf.distribute.get_strategy()
        self.replicas = self.strategy.num_replicas_in_sync
        self._multi_worker = isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy)

    def scope(self):
        """The strategy's scope: models loaded inside it have their variables on every replica."""
        return self.strategy.scope()

    def __call__(self, fn: Callable[..., Any], batches: Iterable[Sequence[Any]]) -> List[Any]:
        """``[fn(*b) for b in batches]`` with NumPy results (a structure of arrays per batch), in order.

        ``fn`` takes tensors (a batch's arrays, converted on the replica's
        device) and returns a tensor or a tuple of tensors, each with the
        batch's examples along its first axis.
        """
        return list(self.imap(fn, batches))

    def imap(self, fn: Callable[..., Any], batches: Iterable[Sequence[Any]]) -> Iterator[Any]:
        """As calling the map, but yields each batch's result as soon as its group is done."""
        batches = [tuple(b) for b in batches]
        if self.replicas == 1:
            for b in batches:
                yield _numpy(fn(*[tf.convert_to_tensor(a) for a in b]))
            return
        for start in range(0, len(batches), self.replicas):
            group = batches[start:start + self.replicas]
            yield from self._group(fn, group)[:len(group)]

    def _group(self, fn, group: List[tuple]) -> List[Any]:
        padded = group + [group[-1]] * (self.replicas - len(group))

        def value(context: tf.distribute.experimental.ValueContext):
            return tuple(tf.convert_to_tensor(a) for a in padded[context.replica_id_in_sync_group])

        inputs = self.strategy.experimental_distribute_values_from_function(value)
        outputs = self.strategy.run(lambda args: fn(*args), args=(inputs,))
        if self._multi_worker:
            return self._gathered(outputs, [len(b[0]) for b in padded])
        return [_numpy(r) for r in self.strategy.experimental_local_results(outputs)]

    def _gathered(self, outputs, sizes: List[int]) -> List[Any]:
        """Every replica's result on every worker: gathered along the batch axis, then cut per replica."""

        def gather(per_replica):
            dtype = self.strategy.experimental_local_results(per_replica)[0].dtype
            if dtype in _GATHERABLE:
                return self.strategy.gather(per_replica, axis=0).numpy()
            # Collectives carry numbers only: bool and small integers travel as int32.
            wide = self.strategy.run(lambda t: tf.cast(t, tf.int32), args=(per_replica,))
            return self.strategy.gather(wide, axis=0).numpy().astype(dtype.as_numpy_dtype)

        gathered = tf.nest.map_structure(gather, outputs)
        bounds = np.cumsum([0] + sizes)
        return [tf.nest.map_structure(lambda a, i=i: a[bounds[i]:bounds[i + 1]], gathered)
                for i in range(len(sizes))]


def _numpy(value):
    return tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else np.asarray(t), value)
