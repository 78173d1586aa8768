"""``python -m robustkit.certify``: certified L2 radii of classifiers by randomized smoothing.

Examples:
  python -m robustkit.certify --config configs/certify_fashion_mnist.yaml \\
      --model noise025=saved_models/fashion_mnist_small_cnn_noise_025 --set certify.sigmas=[0.25]
  python -m robustkit.certify --config configs/certify_fashion_mnist.yaml --model m=saved_models/m \\
      --set certify.n=10000 --set data.eval_limit=500 --out runs/certify_try
  python -m robustkit.certify --config configs/certify_fashion_mnist.yaml \\
      --model rot=saved_models/fashion_mnist_small_cnn_rotation_set --set certify.sigmas=[] \\
      --set latent.path=saved_models/cvae_rotation_1d_fashion_mnist
"""

import argparse
import sys
from typing import Optional, Sequence

from robustkit import cli
from robustkit.certify.config import CertifyJob
from robustkit.models.paths import parse_model_flags


def parser() -> argparse.ArgumentParser:
    p = cli.entry_parser(
        "python -m robustkit.certify",
        (
            "For every --model and noise level sigma, the smoothed classifier's prediction (PREDICT) and certified "
            "L2 radius (CERTIFY) on each evaluation example (Cohen, Rosenfeld & Kolter, 2019), with Gaussian noise "
            "on the pixels or, with latent.path, on the latent code of a learned perturbation set (Wong & Kolter, "
            "2020); an attack on the smoothed classifier checks every certificate. Writes certify.csv, "
            "metrics.json, certified_accuracy.png, report.html and config.yaml to --out (default run.dir). The "
            "last line printed is 'report: <path>'."
        ),
        __doc__,
    )
    cli.add_models_flag(p, "certify", "NAME labels it in the outputs")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.main(parser(), lambda args: _run(args, argv), argv)


def _run(args: argparse.Namespace, argv: Optional[Sequence[str]]) -> int:
    job = cli.load_job(CertifyJob, args)
    if job is None:
        return 0
    models = parse_model_flags(args.model)
    from robustkit.certify import report, runner  # Imports TensorFlow.

    command = cli.command_line("python -m robustkit.certify", argv)
    record = runner.run_certify(job, models, command)
    print(report.console_lines(record))
    print(f"report: {job.run.dir}/report.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
