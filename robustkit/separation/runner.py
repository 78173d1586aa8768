"""Runs a separation measurement from a `SeparationJob`: load, embed, measure, summarise, write."""

import logging
import os
import time
from typing import Any, Dict, List, Optional

import numpy as np

from robustkit import config as config_lib
from robustkit import distribute, versions
from robustkit.data.examples import load_arrays
from robustkit.replicas import BatchMap
from robustkit.separation import exact, report, summary
from robustkit.separation.config import SeparationJob
from robustkit.separation.latent import VAECodec

log = logging.getLogger(__name__)

FILES = ("separation.json", "closest_pairs.png", "config.yaml")


def measure(points: Dict[str, np.ndarray], labels: Dict[str, np.ndarray], job: SeparationJob,
            class_names: List[str], batch_map: Optional[BatchMap] = None) -> Dict[str, Dict[str, Any]]:
    """``{norm: {pairing: summary}}`` for the job's norms and pairings; references are always the training points."""
    out: Dict[str, Dict[str, Any]] = {norm: {} for norm in job.norms}
    for pairing in job.pairings:
        query = "train" if pairing == "train_train" else "test"
        found = exact.nearest_other_label(points[query], labels[query], points["train"], labels["train"],
                                          norms=job.norms, tile_size=job.tile_size, arithmetic=job.arithmetic,
                                          batch_map=batch_map)
        for norm, nearest in found.items():
            out[norm][pairing] = summary.summarise(
                nearest, labels[query], labels["train"], class_names=class_names, percentiles=job.percentiles,
                drop_smallest=job.drop_smallest, pairs=job.closest_pairs, symmetric=pairing == "train_train")
    return out


def run_separation(job: SeparationJob, command: str = "python -m robustkit.separation") -> Dict[str, Any]:
    """Measures the job's separation and writes ``separation.json``, ``closest_pairs.png`` and ``config.yaml``.

    Returns:
      The record written to ``separation.json``.
    """
    started = time.perf_counter()
    batch_map = BatchMap(distribute.make_strategy(job.distribute))  # First: multi_worker starts before the runtime.
    job.run.dir = distribute.write_dir(job.run.dir, batch_map.strategy)  # Only the chief writes to run.dir.
    codec = VAECodec(job.vae, job.batch_size) if job.space == "latent" else None  # Fails early on a bad path.
    images, labels = {}, {}
    splits = {"train": (job.data.train_split, job.data.train_limit)}
    if "test_train" in job.pairings:
        splits["test"] = (job.data.eval_split, job.data.eval_limit)
    class_names: List[str] = []
    for key, (split, limit) in splits.items():
        images[key], labels[key], class_names = load_arrays(job.data, split, limit)
    points = dict(images)
    if codec is not None:
        for key in images:
            points[key] = codec.encode(images[key])[0]
            log.info("encoded %d %s images to %d-dimensional posterior means", len(images[key]), key,
                     codec.latent_dim)
    record: Dict[str, Any] = {
        "space": job.space,
        "units": "pixel units of [0, 1]" if job.space == "pixel" else f"latent units ({codec.latent_dim} dimensions)",
        "data": {"name": job.data.name, "train_split": job.data.train_split, "eval_split": job.data.eval_split,
                 "train_examples": int(len(labels["train"])), "eval_examples": int(len(labels.get("test", []))),
                 "image_shape": list(images["train"].shape[1:]), "class_names": class_names},
        "vae": codec.path if codec is not None else None,
        "drop_smallest": job.drop_smallest,
        "tile_size": job.tile_size,
    }
    record.update(measure(points, labels, job, class_names, batch_map))
    record.update({"seconds": time.perf_counter() - started, "versions": versions.library_versions(),
                   "command": command})
    os.makedirs(job.run.dir, exist_ok=True)
    config_lib.save(job, os.path.join(job.run.dir, "config.yaml"), command=command)
    report.write_record(os.path.join(job.run.dir, "separation.json"), record)
    report.closest_pairs_figure(record, images, class_names, os.path.join(job.run.dir, "closest_pairs.png"))
    return record
