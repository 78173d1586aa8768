"""Config sections shared by the entry points (no TensorFlow import here)."""

import dataclasses
import os
from typing import List, Literal, Optional


@dataclasses.dataclass
class RunConfig:
    """Where a run writes and how it is seeded.

    Attributes:
      name: the run's name; also the default export name.
      dir: the run directory (default ``runs/<name>``).
      seed: seeds shuffling, augmentation and weight initialisation.
    """

    name: str = "run"
    dir: Optional[str] = None
    seed: int = 0

    def resolve(self) -> None:
        """Fills the default run directory, ``runs/<name>``."""
        if self.dir is None:
            self.dir = os.path.join("runs", self.name)


@dataclasses.dataclass
class DistributeConfig:
    """Which `tf.distribute` strategy runs the job (see `robustkit.distribute`).

    Attributes:
      strategy: auto (mirrored over all local GPUs if there are several, else
        the default), default, one_device, mirrored, multi_worker or tpu.
      device: the device for one_device (default: the first GPU, else the CPU).
      devices: the devices for mirrored (default: all local GPUs).
      cluster: where multi_worker reads its cluster: tf_config (the TF_CONFIG
        variable) or slurm (Slurm's environment).
      communication: multi_worker collectives: auto, ring or nccl.
      slurm_port_base: first port Slurm-launched workers listen on.
      tpu: the TPU name or address for tpu (empty: the local TPU).
      stall_timeout: seconds without progress (a finished batch or epoch, or
        the first step's tracing) after which a run stops with an error
        instead of hanging on a stalled collective or a lost worker; null
        waits forever. multi_worker's collectives time out after the same
        time. The stopped run resumes from its last completed epoch.
    """

    strategy: Literal["auto", "default", "one_device", "mirrored", "multi_worker", "tpu"] = "auto"
    device: Optional[str] = None
    devices: Optional[List[str]] = None
    cluster: Literal["tf_config", "slurm"] = "tf_config"
    communication: Literal["auto", "ring", "nccl"] = "auto"
    slurm_port_base: int = 8888
    tpu: str = ""
    stall_timeout: Optional[float] = 900.0

    def __post_init__(self):
        if self.stall_timeout is not None and self.stall_timeout <= 0:
            raise ValueError(f"distribute.stall_timeout = {self.stall_timeout} must be positive seconds, or null")


@dataclasses.dataclass
class ExportConfig:
    """Where the trained model is exported.

    Attributes:
      dir: the export root (``<dir>/<name>/<version>/``).
      name: the model's name under ``dir`` (default: ``run.name``).
    """

    dir: str = "saved_models"
    name: Optional[str] = None
