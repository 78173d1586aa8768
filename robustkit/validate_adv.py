"""``python -m robustkit.validate_adv``: attack models on one dataset and compare them side by side.

Examples:
  python -m robustkit.validate_adv --config configs/validate_quickstart.yaml \\
      --model base=saved_models/quickstart_base --model nsl=saved_models/quickstart_nsl
  python -m robustkit.validate_adv --config configs/validate_quickstart.yaml \\
      --model base=saved_models/quickstart_base --set data.eval_limit=200 --set attacks.lbfgs=false --out runs/try
"""

import argparse
import os
import sys
from typing import Optional, Sequence

from robustkit import cli
from robustkit import config as config_lib
from robustkit.evaluation.config import ValidateJob
from robustkit.models.paths import parse_model_flags


def parser() -> argparse.ArgumentParser:
    p = cli.entry_parser(
        "python -m robustkit.validate_adv",
        (
            "Score every --model on the same examples of the config's dataset, clean and under every configured "
            "attack and epsilon; run the sanity checks of Carlini et al. (2019); write config.yaml, metrics.json, "
            "robust_accuracy.csv, accuracy_vs_eps.png, examples.png and report.html to --out (default run.dir). "
            "The last line printed is 'report: <path>'."
        ),
        __doc__,
    )
    cli.add_models_flag(p, "validate", "NAME labels it in the report")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.main(parser(), lambda args: _run(args, argv), argv)


def _run(args: argparse.Namespace, argv: Optional[Sequence[str]]) -> int:
    job = cli.load_job(ValidateJob, args)
    if job is None:
        return 0
    models = parse_model_flags(args.model)
    if job.corruptions is not None:  # Before any attack runs.
        job.corruptions.check_models(models)
    from robustkit.evaluation import report, runner  # Imports TensorFlow.

    command = cli.command_line("python -m robustkit.validate_adv", argv)
    results = runner.validate(job, models)
    if not results.chief:
        print("results gathered; the chief worker writes them")
        return 0
    config_lib.save(job, os.path.join(job.run.dir, "config.yaml"), command=command)
    paths = report.write_all(results, job.run.dir, job.run.seed, command)
    print(report.console_table(results))
    print(f"report: {paths['report.html']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
