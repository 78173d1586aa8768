"""``robustkit.explain(models, config, **sections)``: ``python -m robustkit.explain`` from Python."""

import os
from typing import Any, Mapping, Optional

from robustkit import config as config_lib


def explain(models: Mapping[str, str], config: Any = None, *, out_dir: Optional[str] = None, **sections: Any):
    """Saliency maps, activation maps and MC-dropout uncertainty, as ``python -m robustkit.explain`` makes them.

    Args:
      models: name -> model path (explanations rewire the model's layers, so they need its file).
      config: an explain config (e.g. ``configs/explain_quickstart.yaml``), merged with ``sections``.
      out_dir: where the figures and report.html go (default the config's run.dir).

    Returns:
      `robustkit.explain.runner.Results`.
    """
    from robustkit.explain import report, runner
    from robustkit.explain.config import ExplainJob
    from robustkit.models.paths import resolve_model_path

    job = config_lib.parse(ExplainJob, *config_lib.from_python(config, sections))
    if out_dir is not None:
        job.run.dir = out_dir
    paths = {name: resolve_model_path(os.fspath(path), what=f"model {name}") for name, path in models.items()}
    results = runner.explain(job, paths)
    config_lib.save(job, os.path.join(job.run.dir, "config.yaml"), command="robustkit.explain(...)")
    report.write_all(results, job.run.dir, job.run.seed, job.uncertainty.samples, job.uncertainty.bins,
                     job.activations.channels, "robustkit.explain(...)")
    return results
