"""``python -m robustkit.separation``: how far apart differently labelled points are (r-separation).

Examples:
  python -m robustkit.separation --config configs/separation_fashion_mnist.yaml
  python -m robustkit.separation --config configs/separation_fashion_mnist.yaml --set data.train_limit=5000 \\
      --set data.eval_limit=1000 --set run.dir=runs/try
  python -m robustkit.separation --config configs/separation_fashion_mnist.yaml --set space=latent \\
      --set vae=saved_models/vae_fashion_mnist
"""

import argparse
import sys
from typing import Optional, Sequence

from robustkit import cli
from robustkit.separation.config import SeparationJob


def parser() -> argparse.ArgumentParser:
    p = cli.entry_parser(
        "python -m robustkit.separation",
        (
            "For every training (train-train) and evaluation (test-train) point, the exact distance to the "
            "nearest training point of another label, in L-inf and L2, in pixel space or in a VAE's latent "
            "space (Yang et al., 2020); r = min / 2. Writes separation.json, closest_pairs.png and config.yaml "
            "to run.dir (or --out). The last line printed is 'separation: <path>'."
        ),
        __doc__,
    )
    p.add_argument("--vae", metavar="PATH", help="the VAE export for space: latent (overrides vae)")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.main(parser(), lambda args: _run(args, argv), argv)


def _run(args: argparse.Namespace, argv: Optional[Sequence[str]]) -> int:
    job = cli.load_job(SeparationJob, args, [f"vae={args.vae}"] if args.vae else None)
    if job is None:
        return 0
    from robustkit.separation import report, runner  # Imports TensorFlow.

    command = cli.command_line("python -m robustkit.separation", argv)
    record = runner.run_separation(job, command)
    print(report.console_lines(record))
    print(f"separation: {job.run.dir}/separation.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
