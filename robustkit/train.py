"""``python -m robustkit.train``: train a classifier from a config, then export it.

Examples:
  python -m robustkit.train --config configs/quickstart_base.yaml
  python -m robustkit.train --config configs/quickstart_base.yaml --set train.epochs=1 --set run.name=try
"""

import argparse
import sys
from typing import Optional, Sequence

import yaml

from robustkit import cli
from robustkit import config as config_lib
from robustkit.training.config import TrainJob


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m robustkit.train",
        description=(
            "Train a classifier (optionally with adversarial regularisation) on the config's dataset, "
            "write config.yaml, history.csv and metrics.json to run.dir, and export the model as a "
            "SavedModel to <export.dir>/<export.name>/<version>/. Rerunning a killed run with the same "
            "command resumes it. The last line printed is 'exported: <path>'."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n", 2)[2],
    )
    cli.add_config_flags(p)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    cli.setup_logging(args.log_level)

    def body() -> int:
        job = config_lib.load(TrainJob, args.config, args.overrides)
        if args.print_config:
            print(yaml.safe_dump(config_lib.to_dict(job), sort_keys=False), end="")
            return 0
        from robustkit.training.loop import run_training  # Imports TensorFlow.

        result = run_training(job)
        print(f"run: {result.run_dir}")
        print(f"exported: {result.export_path or 'nothing (this worker is not the chief)'}")
        return 0

    return cli.run(body)


if __name__ == "__main__":
    sys.exit(main())
