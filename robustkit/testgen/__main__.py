"""``python -m robustkit.testgen``: label-preserving tests within r of seed inputs, and a classifier's answers.

Examples:
  python -m robustkit.testgen --config configs/testgen_fashion_mnist.yaml --model saved_models/quickstart_base
  python -m robustkit.testgen --config configs/testgen_fashion_mnist.yaml --model saved_models/quickstart_nsl \\
      --set oracle=saved_models/quickstart_base --out runs/testgen_nsl
  python -m robustkit.testgen --config configs/testgen_fashion_mnist.yaml --model saved_models/quickstart_base \\
      --set space=pixel --set radius.norm=linf --set data.train_limit=10000
"""

import argparse
import sys
from typing import Optional, Sequence

from robustkit import cli
from robustkit import config as config_lib
from robustkit.models.paths import resolve_model_path
from robustkit.testgen.config import TestgenJob


def parser() -> argparse.ArgumentParser:
    p = cli.entry_parser(
        "python -m robustkit.testgen",
        (
            "Draw tests within r of seed inputs (in a VAE's latent space, kept only if their re-encoded code stays "
            "within r, or in pixel space), label them with their seed's label (r-separation, Yang et al. 2020), "
            "and measure --model on them; an oracle classifier estimates how valid the labels are. Writes "
            "tests.npz, metrics.json, grid.png, report.html and config.yaml to --out (default run.dir). The last "
            "line printed is 'report: <path>'."
        ),
        __doc__,
    )
    p.add_argument("--model", metavar="PATH", help="the classifier under test: a SavedModel directory, a model root "
                   "of numbered versions (the highest is used) or a Keras file")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.main(parser(), lambda args: _run(args, argv), argv)


def _run(args: argparse.Namespace, argv: Optional[Sequence[str]]) -> int:
    job = cli.load_job(TestgenJob, args)
    if job is None:
        return 0
    if not args.model:
        raise config_lib.ConfigError("no model given; pass --model PATH, e.g. --model saved_models/quickstart_base")
    model = resolve_model_path(args.model, what="--model")
    if job.oracle:
        resolve_model_path(job.oracle, what="oracle")
    from robustkit.testgen import runner  # Imports TensorFlow.

    command = cli.command_line("python -m robustkit.testgen", argv)
    metrics = runner.run_testgen(job, model, command)
    m, oracle = metrics["model"], metrics["oracle"]
    print(f"tests: {metrics['generation']['accepted']} kept of {metrics['generation']['drawn']} drawn around "
          f"{metrics['generation']['seeds_used']} seeds (r {metrics['radius']['summary']})")
    accuracy = m["test_accuracy"]["accuracy"]
    print(f"{m['name']} accuracy on the tests: {'-' if accuracy is None else f'{accuracy:.4f}'} "
          f"({m['failures']} failures)")
    if oracle:
        validity = oracle["validity"]["accuracy"]
        print(f"oracle {oracle['name']} agrees with the tests' labels: "
              f"{'-' if validity is None else f'{validity:.4f}'}")
    print(f"report: {job.run.dir}/report.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
