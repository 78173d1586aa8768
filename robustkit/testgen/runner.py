"""Runs a test generation from a `TestgenJob`: seeds, r, tests, the classifier's and the oracle's answers, outputs."""

import dataclasses
import logging
import os
import time
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from robustkit import config as config_lib
from robustkit import distribute, outputs, versions
from robustkit.separation import exact
from robustkit.separation.latent import VAECodec
from robustkit.data.examples import load_arrays
from robustkit.replicas import BatchMap
from robustkit.testgen import generate, report, scoring
from robustkit.testgen.config import TestgenJob

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Radius:
    """Each seed's r (0: the seed failed its 2r check), the global r (None in local mode) and where it came from."""

    per_seed: np.ndarray
    r: Optional[float]
    source: str


def model_name(path: str) -> str:
    """A readable name for a model path: its directory or file name, skipping a numbered version."""
    parts = [p for p in os.path.normpath(path).split(os.sep) if p]
    while len(parts) > 1 and parts[-1].isdigit():
        parts.pop()
    return os.path.splitext(parts[-1])[0] if parts else "model"


def choose_radius(job: TestgenJob, seed_points: np.ndarray, seed_labels: np.ndarray, train_points: np.ndarray,
                  train_labels: np.ndarray) -> Radius:
    """Each seed's r: the global r where the seed passes its 2r check against other labels, or its local r_s.

    Global r is ``radius.value`` or half the smallest distance between
    differently labelled training points (after ``radius.drop_smallest``).
    """
    norm = job.radius.norm
    other = exact.nearest_other_label(seed_points, seed_labels, train_points, train_labels, norms=[norm])[norm]
    if job.radius.mode == "local":
        per_seed = np.where(np.isfinite(other.distance), other.distance / 2.0, 0.0)
        return Radius(per_seed, None, "per seed: half its distance to the nearest training point of another label")
    if job.radius.value is not None:
        r, source = float(job.radius.value), "radius.value"
    else:
        nearest = exact.nearest_other_label(train_points, train_labels, train_points, train_labels, norms=[norm])
        distances = np.sort(nearest[norm].distance[np.isfinite(nearest[norm].distance)])[job.radius.drop_smallest:]
        if not len(distances):
            raise config_lib.ConfigError("the training points hold one label only (or fewer points than "
                                         "radius.drop_smallest): r cannot be measured; set radius.value")
        r = float(distances[0]) / 2.0
        source = (f"half the smallest {norm} distance between differently labelled training points "
                  f"({len(train_labels)} points, {job.radius.drop_smallest} smallest dropped) in {job.space} space")
    return Radius(np.where(other.distance >= 2.0 * r, r, 0.0), r, source)


def _stats(values: np.ndarray) -> Dict[str, Optional[float]]:
    values = np.asarray(values, np.float64)
    if not len(values):
        return {"min": None, "mean": None, "max": None}
    return {"min": float(values.min()), "mean": float(values.mean()), "max": float(values.max())}


def _record(job: TestgenJob, radius: Radius, tests: generate.Tests, seed_rows: np.ndarray, answers: Dict[str, Any],
            class_names: List[str]) -> Dict[str, Any]:
    """The metrics.json record (without versions and timing)."""
    model, oracle = answers["model"], answers.get("oracle")
    failed = np.flatnonzero(answers["predictions"] != tests.labels)
    drawn = int(tests.drawn.sum())
    record: Dict[str, Any] = {
        "space": job.space,
        "data": {"name": job.data.name, "eval_split": job.data.eval_split, "train_split": job.data.train_split,
                 "eval_examples": answers["eval_examples"], "train_examples": answers["train_examples"]},
        "vae": answers.get("vae"),
        "radius": {"r": radius.r, "mode": job.radius.mode, "norm": job.radius.norm, "scale": job.radius.scale,
                   "source": radius.source,
                   "summary": f"{radius.r:.6g}" if radius.r is not None else "per seed, see per_seed",
                   "per_seed": _stats(radius.per_seed[radius.per_seed > 0])},
        "sampling": config_lib.to_dict(job.sampling),
        "generation": {
            "seeds_selected": int(len(seed_rows)), "seeds_not_separated": int(np.sum(radius.per_seed <= 0)),
            "seeds_used": int(np.sum(radius.per_seed > 0)), "seeds_with_tests": int(np.sum(tests.accepted > 0)),
            "drawn": drawn, "accepted": int(len(tests.labels)),
            "acceptance_rate": float(len(tests.labels) / drawn) if drawn else None,
            "distances": _stats(tests.distances), "drawn_distances": _stats(tests.drawn_distances)},
        "model": {"name": model.name, "path": model.path,
                  "seed_accuracy": scoring.accuracy(answers["seed_predictions"], answers["seed_labels"], class_names),
                  "test_accuracy": scoring.accuracy(answers["predictions"], tests.labels, class_names),
                  "failures": int(len(failed))},
        "oracle": None,
        "failures": [{"test": int(t), "seed": int(seed_rows[tests.seed_slots[t]]), "label": int(tests.labels[t]),
                      "predicted": int(answers["predictions"][t]), "distance": float(tests.distances[t]),
                      "oracle": int(answers["oracle_predictions"][t]) if oracle else None} for t in failed],
    }
    if oracle:
        agree = answers["oracle_predictions"]
        record["oracle"] = {"name": oracle.name, "path": oracle.path,
                            "validity": scoring.accuracy(agree, tests.labels, class_names),
                            "seed_accuracy": scoring.accuracy(answers["oracle_seed_predictions"],
                                                              answers["seed_labels"], class_names)}
        record["model"]["failures_oracle_confirms"] = int(np.sum(agree[failed] == tests.labels[failed]))
    return record


def _encoder(codec: Optional[VAECodec]):
    return (lambda images: codec.encode(images)[0]) if codec is not None else (lambda images: images)


def _generate(job: TestgenJob, codec: Optional[VAECodec], seed_images, seed_points, seed_labels, radius: Radius,
              rng) -> generate.Tests:
    if codec is not None:
        return generate.latent_tests(codec, seed_points, seed_labels, radius.per_seed, job.radius.norm, job.sampling,
                                     job.radius.scale, rng)
    return generate.pixel_tests(seed_images, seed_labels, radius.per_seed, job.radius.norm, job.sampling,
                                job.radius.scale, rng)


def run_testgen(job: TestgenJob, model_path: str, command: str = "python -m robustkit.testgen") -> Dict[str, Any]:
    """Generates the tests, queries the classifiers and writes every output to ``job.run.dir``.

    Returns:
      The record written to ``metrics.json``.
    """
    started = time.perf_counter()
    batch_map = BatchMap(distribute.make_strategy(job.distribute))  # First: multi_worker starts before the runtime.
    job.run.dir = distribute.write_dir(job.run.dir, batch_map.strategy)  # Only the chief writes to run.dir.
    rng = np.random.default_rng(job.run.seed)
    codec = VAECodec(job.vae, job.batch_size) if job.space == "latent" else None  # Bad paths fail before work.
    model = scoring.Classifier(model_name(model_path), model_path, job.batch_size, batch_map)
    oracle = scoring.Classifier(model_name(job.oracle), job.oracle, job.batch_size, batch_map) if job.oracle else None
    train_images, train_labels, class_names = load_arrays(job.data, job.data.train_split, job.data.train_limit)
    eval_images, eval_labels, _ = load_arrays(job.data, job.data.eval_split, job.data.eval_limit)
    for classifier in filter(None, (model, oracle)):
        classifier.check(eval_images.shape[-1], len(class_names))
        classifier.calibrate(eval_images, eval_labels)
    encode = _encoder(codec)
    correct = model.predict(eval_images) == eval_labels if job.seeds.select == "correct" else None
    seed_rows = generate.select_seeds(eval_labels, job.seeds, rng, correct)
    seed_images, seed_labels = eval_images[seed_rows], eval_labels[seed_rows]
    seed_points = encode(seed_images)
    radius = choose_radius(job, seed_points, seed_labels, encode(train_images), train_labels)
    log.info("r %s; %d of %d seeds pass the 2r check", radius.source if radius.r is None else f"{radius.r:.6g}",
             int(np.sum(radius.per_seed > 0)), len(seed_rows))
    tests = _generate(job, codec, seed_images, seed_points, seed_labels, radius, rng)
    if not len(tests.labels):
        log.warning("no test was kept: no draw within r of a seed %s. In latent space the VAE's encode-decode drift "
                    "may exceed r; try radius.mode=local or a larger sampling.attempts", "passed the check"
                    if np.any(radius.per_seed > 0) else "(every seed failed its 2r check)")
    answers: Dict[str, Any] = {
        "model": model, "oracle": oracle, "predictions": model.predict(tests.images),
        "seed_predictions": model.predict(seed_images), "seed_labels": seed_labels,
        "eval_examples": int(len(eval_labels)), "train_examples": int(len(train_labels)),
        "vae": codec.path if codec is not None else None}
    if oracle:
        answers["oracle_predictions"] = oracle.predict(tests.images)
        answers["oracle_seed_predictions"] = oracle.predict(seed_images)
    metrics = _record(job, radius, tests, seed_rows, answers, class_names)
    metrics.update({"seconds": time.perf_counter() - started, "versions": versions.library_versions(),
                    "command": command})
    _write(job, codec, metrics, tests, seed_rows, seed_images, seed_points, answers, class_names, command)
    return metrics


def _write(job: TestgenJob, codec, metrics, tests, seed_rows, seed_images, seed_points, answers,
           class_names: List[str], command: str) -> Tuple[str, ...]:
    out = job.run.dir
    os.makedirs(out, exist_ok=True)
    arrays = {"images": tests.images, "labels": tests.labels, "seed_indices": seed_rows[tests.seed_slots],
              "latent_distances" if codec is not None else "pixel_distances": tests.distances,
              "drawn_distances": tests.drawn_distances, "predictions": answers["predictions"]}
    if answers.get("oracle") is not None:
        arrays["oracle_predictions"] = answers["oracle_predictions"]
    report.write_tests(os.path.join(out, "tests.npz"), arrays)
    seeds = {"images": seed_images, "labels": answers["seed_labels"], "indices": seed_rows}
    if codec is not None:
        seeds["reconstructions"] = codec.decode(seed_points)
    rows = report.grid_rows(answers["seed_labels"], tests.accepted > 0, job.grid_seeds)
    has_grid = report.grid_figure(
        os.path.join(out, "grid.png"), seeds,
        {"images": tests.images, "seed_slots": tests.seed_slots, "predictions": answers["predictions"],
         "distances": tests.distances}, rows, class_names,
        f"{answers['model'].name} on tests within r of each seed ({job.space} space, {job.radius.norm}); red: "
        "the model's failures")
    config_lib.save(job, os.path.join(out, "config.yaml"), command=command)
    outputs.write_json(os.path.join(out, "metrics.json"), metrics)
    outputs.write_text(os.path.join(out, "report.html"), report.html_text(metrics, class_names, has_grid))
    return report.FILES
