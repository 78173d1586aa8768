"""``python -m robustkit.train``: train a classifier, VAE or CVAE from a config, then export it.

The config's ``task`` chooses what is trained: ``classifier`` (the default),
``vae`` or ``cvae`` (`robustkit.generative`).

Examples:
  python -m robustkit.train --config configs/quickstart_base.yaml
  python -m robustkit.train --config configs/quickstart_base.yaml --set train.epochs=1 --set run.name=try
  python -m robustkit.train --config configs/cvae_rotation_1d_fashion_mnist.yaml --set regulariser.enabled=false
"""

import argparse
import sys
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

from robustkit import callable_module, cli
from robustkit import config as config_lib
from robustkit.training.config import TrainJob


def parser() -> argparse.ArgumentParser:
    return cli.entry_parser(
        "python -m robustkit.train",
        (
            "Train a classifier (optionally with adversarial regularisation), or a VAE or CVAE (task: vae or "
            "cvae), on the config's data, write config.yaml, history.csv and metrics.json to run.dir, and "
            "export the model as a SavedModel to <export.dir>/<export.name>/<version>/. Rerunning a killed "
            "run with the same command resumes it. The last line printed is 'exported: <path>'."
        ),
        __doc__,
        out=False,
    )


TASKS = ("classifier", "vae", "cvae")


def _run_classifier(job: TrainJob) -> Any:
    from robustkit.training.loop import run_training  # Imports TensorFlow.

    return run_training(job)


def _run_generative(job: Any) -> Any:
    from robustkit.generative.loop import run_generative  # Imports TensorFlow and TFP.

    return run_generative(job)


def load_job(paths: config_lib.Paths, overrides: Sequence[str]) -> Tuple[Any, Callable[[Any], Any]]:
    """The validated job of config files (merged in order) and ``--set`` overrides, and the function that runs it."""
    data = config_lib.apply_overrides(config_lib.read_configs(paths), overrides)
    return job_of(data, config_lib.describe(paths))


def job_of(data: Dict[str, Any], source: str) -> Tuple[Any, Callable[[Any], Any]]:
    """The validated job of a config mapping and the function that runs it, chosen by its ``task``."""
    task = data.get("task", "classifier")
    if task == "classifier":
        return config_lib.parse(TrainJob, data, source), _run_classifier
    if task in ("vae", "cvae"):
        from robustkit.generative.config import parse_job

        return parse_job(data, source), _run_generative
    raise config_lib.ConfigError(
        f"config {source}: key 'task' has value {task!r}; expected one of {', '.join(map(repr, TASKS))}"
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.main(parser(), _run, argv)


def _run(args: argparse.Namespace) -> int:
    job, run = load_job(args.config, args.overrides)
    if args.print_config:
        cli.print_config(job)
        return 0
    result = run(job)
    print(f"run: {result.run_dir}")
    print(f"exported: {result.export_path or 'nothing (this worker is not the chief)'}")
    return 0


def train(config: Any = None, **sections: Any) -> Any:
    """Trains and exports what a config describes, from Python: ``robustkit.train(config, **sections)``.

    Args:
      config: a YAML path (with its ``base:`` files), a mapping, a `TrainJob`
        (validated again, as a parsed one is) or None for the defaults.
      sections: config sections merged over it key by key, e.g.
        ``train={"epochs": 1}, data={"train_limit": 2000}``.

    Returns:
      `robustkit.training.loop.TrainResult` (``run_dir``, ``export_path``,
      ``metrics``, the trained Keras ``model``), or the generative run's result
      for ``task: vae | cvae``.

    Raises:
      robustkit.config.ConfigError: the config is invalid, with the key and the reason.
    """
    job, run = job_of(*config_lib.from_python(config, sections))
    return run(job)


# ``robustkit.train(...)`` calls `train` (see `robustkit.callable_module`).
callable_module.make_callable(__name__, __name__, "train")

if __name__ == "__main__":
    sys.exit(main())
