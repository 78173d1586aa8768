"""``python -m robustkit.explain``: saliency, activation maps and MC-dropout uncertainty, clean and adversarial.

Examples:
  python -m robustkit.explain --config configs/explain_quickstart.yaml \\
      --model base=saved_models/quickstart_base --model nsl=saved_models/quickstart_nsl
  python -m robustkit.explain --config configs/explain_quickstart.yaml --model base=saved_models/quickstart_base \\
      --set data.eval_limit=200 --set attacks.lbfgs=false --set uncertainty.samples=20 --out runs/try
"""

import argparse
import os
import sys
from typing import Optional, Sequence

from robustkit import cli
from robustkit import config as config_lib
from robustkit.models.paths import parse_model_flags
from robustkit.explain.config import ExplainJob


def parser() -> argparse.ArgumentParser:
    p = cli.entry_parser(
        "python -m robustkit.explain",
        (
            "Explain every --model on the same examples of the config's dataset: saliency maps of each configured "
            "method with the top predictions (saliency.png, and saliency_adversarial.png for adversarial inputs), "
            "convolution-layer outputs for an image and its adversarial versions (activations.png), MC-dropout "
            "uncertainty on clean and adversarial inputs (uncertainty.json and its figures), and the most and least "
            "robust images (good_bad.png); all shown in report.html in --out (default run.dir). The last line "
            "printed is 'report: <path>'."
        ),
        __doc__,
    )
    cli.add_models_flag(p, "explain", "give the base and the robust model, or one model per dropout rate, to "
                                      "see them side by side")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.main(parser(), lambda args: _run(args, argv), argv)


def _run(args: argparse.Namespace, argv: Optional[Sequence[str]]) -> int:
    job = cli.load_job(ExplainJob, args)
    if job is None:
        return 0
    models = parse_model_flags(args.model)
    from robustkit.explain import report, runner  # Imports TensorFlow.

    command = cli.command_line("python -m robustkit.explain", argv)
    results = runner.explain(job, models)
    config_lib.save(job, os.path.join(job.run.dir, "config.yaml"), command=command)
    paths = report.write_all(results, job.run.dir, job.run.seed, job.uncertainty.samples, job.uncertainty.bins,
                             job.activations.channels, command)
    print(f"report: {paths['report.html']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
