"""Strategy factory: one GPU, several GPUs, several machines, or a TPU.

Everything robustkit builds (models, optimizers, metrics) is built inside the
returned strategy's scope, and batch sizes in configs are global: each replica
sees ``batch_size / num_replicas_in_sync`` examples per step.
"""

import json
import logging
import os
import re
import tempfile
from typing import Optional, Sequence

import tensorflow as tf

from robustkit.errors import UserError
from robustkit.sections import DistributeConfig

log = logging.getLogger(__name__)


class DistributeError(UserError, RuntimeError):
    """A strategy that cannot be created in this environment."""


def _communication(name: str, timeout: Optional[float]) -> tf.distribute.experimental.CommunicationOptions:
    impl = {
        "auto": tf.distribute.experimental.CommunicationImplementation.AUTO,
        "ring": tf.distribute.experimental.CommunicationImplementation.RING,
        "nccl": tf.distribute.experimental.CommunicationImplementation.NCCL,
    }[name]
    return tf.distribute.experimental.CommunicationOptions(implementation=impl, timeout_seconds=timeout)


def _multi_worker(options: DistributeConfig) -> tf.distribute.Strategy:
    if options.cluster == "slurm":
        try:
            resolver = tf.distribute.cluster_resolver.SlurmClusterResolver(port_base=options.slurm_port_base)
        except (RuntimeError, KeyError, ValueError) as err:
            raise DistributeError(
                f"distribute.cluster = slurm, but Slurm's environment could not be read ({err}). "
                "Launch the job with srun inside a Slurm allocation (SLURM_PROCID, SLURM_STEP_NUM_TASKS "
                "and SLURM_STEP_NODELIST must be set), or use distribute.cluster = tf_config."
            ) from err
    else:
        raw = os.environ.get("TF_CONFIG")
        if not raw:
            raise DistributeError(
                "distribute.strategy = multi_worker needs the TF_CONFIG environment variable on every "
                'worker, for example {"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                '"task": {"type": "worker", "index": 0}}; or set distribute.cluster = slurm under Slurm.'
            )
        try:
            json.loads(raw)
        except json.JSONDecodeError as err:
            raise DistributeError(f"TF_CONFIG is not valid JSON ({err}): {raw!r}") from None
        resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    return tf.distribute.MultiWorkerMirroredStrategy(
        cluster_resolver=resolver, communication_options=_communication(options.communication, options.stall_timeout)
    )


_COLLECTIVE_KEY_STRIDE = 100_000
_DEVICE = re.compile(r"^/(?:job:[^/]+/(?:replica:\d+/)?(?:task:\d+/)?)?(?:device:)?(cpu|gpu):(\d+)$", re.IGNORECASE)


def _ensure_devices(devices: Sequence[str]) -> None:
    """Checks that every device of a MirroredStrategy exists in this process.

    A MirroredStrategy over a device the process does not have builds its
    replicas anyway and then waits forever for that replica's share of the
    first all-reduce. ``/cpu:N`` beyond the first CPU names a logical CPU
    device: they are made here by splitting the CPU (as TensorFlow's own
    multi-device tests do), which must happen before the runtime starts. A GPU
    that is not there, or logical CPUs asked for after the runtime started, is
    an error naming the device.
    """
    wanted = {"cpu": -1, "gpu": -1}
    for name in devices:
        match = _DEVICE.match(name.strip())
        if not match:
            raise DistributeError(
                f"distribute.devices: {name!r} is not a device name; expected names such as /gpu:0 or /cpu:1"
            )
        kind, index = match.group(1).lower(), int(match.group(2))
        wanted[kind] = max(wanted[kind], index)
    gpus = tf.config.list_physical_devices("GPU")
    if wanted["gpu"] >= len(gpus):
        raise DistributeError(
            f"distribute.devices names /gpu:{wanted['gpu']}, but this process sees {len(gpus)} GPU(s); "
            "name only the GPUs that tf.config.list_physical_devices('GPU') lists (check CUDA_VISIBLE_DEVICES)"
        )
    if wanted["cpu"] < 1:
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    configured = tf.config.get_logical_device_configuration(cpu)
    have = len(configured) if configured else 1
    if wanted["cpu"] < have:
        return
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(wanted["cpu"] + 1)]
        )
    except RuntimeError as err:
        raise DistributeError(
            f"distribute.devices names /cpu:{wanted['cpu']}, but this process has {have} CPU device(s) and "
            f"TensorFlow has already started, so no more can be made ({err}). Make the strategy before anything "
            "else runs TensorFlow, or name only existing devices."
        ) from None
    log.info("split the CPU into %d logical devices for distribute.devices = %s", wanted["cpu"] + 1, list(devices))


def _mirrored(devices: Optional[Sequence[str]]) -> tf.distribute.Strategy:
    """A MirroredStrategy over ``devices`` that exist, with collective keys of its own.

    Each MirroredStrategy numbers its all-reduce collectives from the same class
    attribute, so a second strategy over the same devices reuses the first one's
    instance keys and its first all-reduce of a differently shaped model aborts
    with "Shape mismatch in the collective instance" (tensorflow/tensorflow#62790:
    training several models one after another in one program). TensorFlow's own
    strategy tests move that base for every new strategy; so does this.
    """
    if devices:
        _ensure_devices(devices)
    cls = tf.distribute.MirroredStrategy
    if hasattr(cls, "_collective_key_base"):
        cls._collective_key_base += _COLLECTIVE_KEY_STRIDE
    return cls(devices=devices)


def _tpu(options: DistributeConfig) -> tf.distribute.Strategy:
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=options.tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as err:
        raise DistributeError(
            f"distribute.strategy = tpu, but no TPU was found at {options.tpu or 'the local host'!r} ({err}). "
            "Set distribute.tpu to the TPU's name or grpc:// address."
        ) from err
    return tf.distribute.TPUStrategy(resolver)


def make_strategy(options: DistributeConfig) -> tf.distribute.Strategy:
    """Creates the strategy a config names.

    Args:
      options: the ``distribute`` config section.

    Returns:
      A `tf.distribute.Strategy`; ``auto`` gives MirroredStrategy over all local
      GPUs when there are several, else the default strategy.

    Raises:
      DistributeError: when the environment lacks what the strategy needs.
    """
    # Physical devices: listing logical ones would start the runtime, after which
    # MultiWorkerMirroredStrategy can no longer configure its collectives.
    gpus = tf.config.list_physical_devices("GPU")
    name = options.strategy
    if name == "auto":
        name = "mirrored" if len(gpus) > 1 else "default"
    if name == "default":
        strategy = tf.distribute.get_strategy()
    elif name == "one_device":
        device = options.device or ("/gpu:0" if gpus else "/cpu:0")
        strategy = tf.distribute.OneDeviceStrategy(device)
    elif name == "mirrored":
        strategy = _mirrored(options.devices)
    elif name == "multi_worker":
        strategy = _multi_worker(options)
    elif name == "tpu":
        strategy = _tpu(options)
    else:  # The config schema admits only the names above.
        raise DistributeError(f"unknown strategy {name!r}")
    log.info(
        "strategy %s (%s) with %d replica(s)", options.strategy, type(strategy).__name__, strategy.num_replicas_in_sync
    )
    return strategy


def task(strategy: tf.distribute.Strategy):
    """Returns ``(task_type, task_id)`` of this process, ``(None, 0)`` outside a cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return None, 0
    return resolver.task_type, resolver.task_id or 0


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True for the one process that writes exports, plots and metrics."""
    task_type, task_id = task(strategy)
    if task_type is None or task_type == "chief":
        return True
    resolver = strategy.cluster_resolver
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "worker" and task_id == 0 and not has_chief


def barrier(strategy: tf.distribute.Strategy) -> None:
    """Returns once every worker of a MultiWorkerMirroredStrategy has called it (at once elsewhere).

    A worker that ends while another still works is reported to that one as
    crashed; the non-chief workers wait here until the chief has written
    what only it writes.
    """
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(lambda: tf.constant(1.0)), axis=None)


def write_dir(path: str, strategy: tf.distribute.Strategy) -> str:
    """Where this process writes what every worker must save (Keras's checkpoints).

    Under MultiWorkerMirroredStrategy every worker takes part in saving; the
    chief writes to ``path``, the others to throw-away directories.
    """
    if is_chief(strategy):
        return path
    task_type, task_id = task(strategy)
    return tempfile.mkdtemp(prefix=f"robustkit-{task_type}-{task_id}-")
