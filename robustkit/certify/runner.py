"""Runs a certification from a `CertifyJob`: load, count under noise, decide, check, write.

For each model, each pixel noise level of ``certify.sigmas`` and, with
``latent.path``, each latent noise level of ``latent.sigmas``, every example of
the evaluation split gets CERTIFY's class and radius and PREDICT's class (Cohen
et al., 2019); the attack check and the CERTIFY-PREDICT agreement are recorded
next to them.
"""

import json
import logging
import os
import time
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from robustkit import config as config_lib
from robustkit import distribute, progress, versions
from robustkit.certify import bounds, report, sanity, smoothing
from robustkit.certify.config import CertifyJob
from robustkit.data import load_split
from robustkit.data.examples import to_arrays
from robustkit.errors import UserError
from robustkit.models import loading
from robustkit.models.paths import resolve_model_path

log = logging.getLogger(__name__)

PROBE_EXAMPLES = 256


class CertifyError(UserError, ValueError):
    """Models and data that cannot be certified together."""


def _latent_set(job: CertifyJob):
    """The learned perturbation set of ``latent.path`` and its coverage table, or ``(None, None)``."""
    if not job.latent.path:
        return None, None
    from robustkit.generative.perturbation import load_perturbation_set

    pset = load_perturbation_set(job.latent.path)
    description = os.path.join(resolve_model_path(job.latent.path, what="latent.path"), "assets", "generative.json")
    info: Dict[str, Any] = {"path": job.latent.path, "latent_dim": pset.latent_dim, "coverage": None}
    if os.path.isfile(description):
        with open(description, encoding="utf-8") as f:
            info["coverage"] = json.load(f).get("coverage")
    return pset, info


def _examples(job: CertifyJob, size: Optional[int], cache: Dict) -> Tuple[np.ndarray, np.ndarray, List[str]]:
    if size not in cache:
        source = load_split(job.data, job.data.eval_split, job.data.eval_limit)
        images, labels = to_arrays(source, size)
        cache[size] = (images, labels, list(source.class_names))
    return cache[size]


def certify_examples(counter: smoothing.NoiseCounter, images: np.ndarray, labels: np.ndarray, sigma: float,
                     job: CertifyJob, name: str = "model") -> Dict[str, np.ndarray]:
    """CERTIFY and PREDICT for every example: the per-example columns of certify.csv.

    Returns:
      Arrays ``index``, ``label``, ``prediction`` (`bounds.ABSTAIN` = -1),
      ``radius`` (0 on abstention), ``correct``, ``seconds``, ``p_lower``,
      ``top_count``, ``label_count`` (estimation draws giving the label),
      ``predict`` and ``predict_p_value``.
    """
    options = job.certify
    indices = np.arange(len(images), dtype=np.int64)
    draws = [(smoothing.PHASE_SELECTION, options.n0), (smoothing.PHASE_ESTIMATION, options.n),
             (smoothing.PHASE_PREDICTION, options.predict_n)]
    with progress.Stage(f"{name}: {counter.space.name} sigma {sigma:g}", len(images)) as stage:
        counts, seconds = counter.count(images, indices, sigma, draws, progress=stage.advance)
    columns: Dict[str, List] = {k: [] for k in ("prediction", "radius", "p_lower", "top_count", "predict",
                                                "predict_p_value")}
    for selection, estimation, prediction in counts:
        top, radius, p_lower = bounds.certify_one(selection, estimation, sigma, options.alpha)
        predicted, p_value = bounds.predict_one(prediction, options.alpha)
        for key, value in zip(columns, (top, radius, p_lower, int(estimation[int(np.argmax(selection))]),
                                        predicted, p_value)):
            columns[key].append(value)
    out = {key: np.asarray(values) for key, values in columns.items()}
    out.update({"index": indices, "label": labels, "seconds": seconds,
                "correct": (out["prediction"] == labels).astype(np.int64),
                "label_count": counts[:, 1, :][np.arange(len(labels)), labels]})
    return out


def summarise(columns: Dict[str, np.ndarray], grid: List[float], n: int, seconds: float) -> Dict[str, Any]:
    """A run's figures: certified accuracy on the grid, the smoothed clean accuracy, abstentions, speed."""
    examples = len(columns["label"])
    total = max(examples, 1)
    correct = columns["correct"].astype(bool)
    return {
        "examples": examples,
        "certified_accuracy": bounds.certified_accuracy(columns["radius"], correct, grid),
        "smoothed_clean_accuracy": float(np.sum(columns["predict"] == columns["label"]) / total),
        "predict_abstentions": float(np.sum(columns["predict"] == bounds.ABSTAIN) / total),
        "certify_abstentions": float(np.sum(columns["prediction"] == bounds.ABSTAIN) / total),
        "mean_radius_of_correct": float(np.sum(columns["radius"] * correct) / total),
        "noisy_accuracy": float(np.sum(columns["label_count"]) / (total * n)),
        "seconds": seconds,
    }


def _plan(job: CertifyJob, pset) -> List[Tuple[str, float]]:
    plan = [("pixel", s) for s in job.certify.sigmas]
    if pset is not None:
        plan += [("latent", s) for s in job.latent.sigmas]
    return plan


def certify_model(job: CertifyJob, strategy, name: str, model: loading.Model, images: np.ndarray, labels: np.ndarray,
                  pset) -> Tuple[List[Dict[str, Any]], List[Dict[str, np.ndarray]]]:
    """Every space and sigma of the job for one model: the run records and their per-example columns."""
    runs, tables = [], []
    base_accuracy = smoothing.base_accuracy(model, images, labels, job.certify.batch_size)
    draws_per_example = job.certify.n0 + job.certify.n + job.certify.predict_n
    for space_name, sigma in _plan(job, pset):
        if space_name == "pixel":
            space = smoothing.PixelSpace(model, images.shape[1:])
            grid, units = job.certify.radii, "L2, pixel units of [0, 1]"
        else:
            space = smoothing.LatentSpace(model, pset.for_shape(images.shape[1:]))
            grid, units = job.latent.radii, "L2 of the whitened latent code (prior standard deviations)"
        counter = smoothing.NoiseCounter(strategy, space, model.num_classes, job.certify.batch_size, job.run.seed)
        began = time.perf_counter()
        columns = certify_examples(counter, images, labels, sigma, job, name)
        spent = time.perf_counter() - began
        record = {"model": name, "path": model.path, "space": space_name, "sigma": sigma, "units": units,
                  "base_clean_accuracy": base_accuracy, "notes": model.notes,
                  **summarise(columns, grid, job.certify.n, spent),
                  "noisy_forward_passes_per_second": draws_per_example * len(images) / spent if spent else None}
        checks = {"agreement": sanity.agreement_check(columns["prediction"], columns["predict"])}
        if job.sanity.enabled:
            checks["attack"] = sanity.attack_check(counter, images, columns["index"], columns["prediction"],
                                                   columns["radius"], sigma, job.sanity, job.certify.alpha,
                                                   job.run.seed)
        record["checks"] = checks
        log.info("%s %s sigma %g: certified accuracy %s, smoothed clean accuracy %.4f (%.1f s)", name, space_name,
                 sigma, record["certified_accuracy"], record["smoothed_clean_accuracy"], spent)
        columns.update({"model": np.array([name] * len(labels)), "space": np.array([space_name] * len(labels)),
                        "sigma": np.full(len(labels), sigma)})
        runs.append(record)
        tables.append(columns)
    return runs, tables


def _load(name: str, path: str, job: CertifyJob, cache: Dict, strategy):
    with strategy.scope():  # Each replica has its own copy of the variables, as in the other tools.
        model = loading.load_model(name, path)
    images, labels, class_names = _examples(job, model.input_size, cache)
    if not len(labels):
        raise CertifyError(f"data.eval_split {job.data.eval_split!r} of {job.data.name} holds no examples")
    model.calibrate(images[:PROBE_EXAMPLES], labels[:PROBE_EXAMPLES])
    if int(labels.max()) >= model.num_classes:
        raise CertifyError(f"model {name} has {model.num_classes} classes, but {job.data.name} has labels up to "
                           f"{int(labels.max())}; certify it on the data it was trained for")
    return model, images, labels, class_names


def run_certify(job: CertifyJob, models: Dict[str, str], command: str = "python -m robustkit.certify"
                ) -> Dict[str, Any]:
    """Certifies every model and writes certify.csv, metrics.json, certified_accuracy.png, report.html, config.yaml.

    Args:
      job: the resolved job.
      models: name -> model path (resolved).
      command: the command line, for the headers of the outputs.

    Returns:
      The record written to ``metrics.json``.
    """
    strategy = distribute.make_strategy(job.distribute)  # First: it may configure the runtime.
    started = time.perf_counter()
    pset, latent_info = _latent_set(job)
    cache: Dict = {}
    runs: List[Dict[str, Any]] = []
    tables: List[Dict[str, np.ndarray]] = []
    class_names: List[str] = []
    for name, path in models.items():
        model, images, labels, class_names = _load(name, path, job, cache, strategy)
        model_runs, model_tables = certify_model(job, strategy, name, model, images, labels, pset)
        runs += model_runs
        tables += model_tables
    checks = [{"check": check, "model": r["model"], "space": r["space"], "sigma": r["sigma"],
               "passed": result["passed"], "detail": result["detail"]}
              for r in runs for check, result in r["checks"].items()]
    record = {
        "data": {"name": job.data.name, "split": job.data.eval_split, "limit": job.data.eval_limit,
                 "class_names": class_names},
        "certify": config_lib.to_dict(job.certify),
        "latent": latent_info,
        "sanity": config_lib.to_dict(job.sanity),
        "strategy": {"name": job.distribute.strategy, "class": type(strategy).__name__,
                     "replicas": strategy.num_replicas_in_sync},
        "runs": runs,
        "checks": checks,
        "all_checks_passed": all(c["passed"] for c in checks),
        "seconds": time.perf_counter() - started,
        "versions": versions.library_versions(),
        "command": command,
    }
    if distribute.is_chief(strategy):
        out = job.run.dir
        os.makedirs(out, exist_ok=True)
        config_lib.save(job, os.path.join(out, "config.yaml"), command=command)
        report.write_all(out, record, tables)
    distribute.barrier(strategy)
    return record
