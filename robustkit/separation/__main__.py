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
    p = argparse.ArgumentParser(
        prog="python -m robustkit.separation",
        description=(
            "For every training (train-train) and evaluation (test-train) point, the exact distance to the "
            "nearest training point of another label, in L-inf and L2, in pixel space or in a VAE's latent "
            "space (Yang et al., 2020); r = min / 2. Writes separation.json, closest_pairs.png and config.yaml "
            "to run.dir (or --out). The last line printed is 'separation: <path>'."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n", 2)[2],
    )
    cli.add_config_flags(p)
    p.add_argument("--vae", metavar="PATH", help="the VAE export for space: latent (overrides vae)")
    p.add_argument("--out", metavar="DIR", help="output directory (overrides run.dir)")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    cli.setup_logging(args.log_level)

    def body() -> int:
        job = cli.load_job(SeparationJob, args, [f"vae={args.vae}"] if args.vae else None)
        if job is None:
            return 0
        from robustkit.separation import report, run  # Imports TensorFlow.

        command = cli.command_line("python -m robustkit.separation", argv)
        record = run.run_separation(job, command)
        print(report.console_lines(record))
        print(f"separation: {job.run.dir}/separation.json")
        return 0

    return cli.run(body)


if __name__ == "__main__":
    sys.exit(main())
