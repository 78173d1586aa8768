"""Fits a VAE or CVAE from a `GenerativeJob`, measures it, draws it and exports it."""

import csv
import dataclasses
import logging
import math
import os
import sys
from typing import Any, Dict, Optional

import numpy as np
import tensorflow as tf
import tf_keras as keras

from robustkit import config as config_lib
from robustkit import distribute, outputs, versions, watchdog
from robustkit.data.pairs import Pairs, load_pairs, make_pair_pipeline
from robustkit.generative import evaluate, plots
from robustkit.generative.config import MODELS, GenerativeJob
from robustkit.generative.distributions import LinearWarmup
from robustkit.generative.export import export_generative
from robustkit.generative.perturbation import PerturbationSet
from robustkit.training import callbacks as callbacks_lib

log = logging.getLogger(__name__)

TRAIN_EVAL_EXAMPLES = 10000


@dataclasses.dataclass
class GenerativeResult:
    """What a finished run produced (the fields of `robustkit.training.loop.TrainResult`)."""

    run_dir: str
    export_path: Optional[str]  # None on non-chief workers
    metrics: Dict[str, Any]


def _pipeline(job: GenerativeJob, pairs: Pairs, training: bool) -> tf.data.Dataset:
    dataset = make_pair_pipeline(pairs, job.train.batch_size, training=training, seed=job.run.seed,
                                 shuffle_buffer=job.data.shuffle_buffer, drop_remainder=training)
    if job.task == "vae":
        key = "image" if job.data.images == "clean" else "perturbed"
        dataset = dataset.map(lambda batch: {"image": batch[key]})
    if training and job.train.steps_per_epoch is not None:
        dataset = dataset.repeat()
    return dataset


def _steps(job: GenerativeJob, train: Pairs) -> int:
    if job.train.steps_per_epoch is None and train.num_examples < job.train.batch_size:
        raise config_lib.ConfigError(
            f"train.batch_size = {job.train.batch_size} exceeds the {train.num_examples} training examples of "
            f"data {job.data.name}; lower the batch size or raise data.train_limit"
        )
    return job.train.steps_per_epoch or train.num_examples // job.train.batch_size


def _build(job: GenerativeJob, train: Pairs, steps_per_epoch: int):
    kwargs: Dict[str, Any] = dict(image_shape=train.clean.shape[1:], beta=job.train.beta,
                                  beta_warmup_steps=int(round(job.train.beta_warmup_epochs * steps_per_epoch)))
    if job.task == "cvae":
        kwargs["regulariser_weight"] = job.regulariser.weight if job.regulariser.enabled else 0.0
    model = MODELS.build(job.model, **kwargs)
    first = {k: evaluate.as_float(v[:2]) for k, v in (("image", train.clean), ("perturbed", train.corrupted))}
    model(first if job.task == "cvae" else first["image"])  # Creates the variables BackupAndRestore restores.
    rate = LinearWarmup(job.train.learning_rate, int(round(job.train.lr_warmup_epochs * steps_per_epoch)))
    model.compile(optimizer=keras.optimizers.Adam(rate))
    return model


def _callbacks(job: GenerativeJob, strategy, throughput, resuming: bool) -> list:
    callbacks = [keras.callbacks.BackupAndRestore(callbacks_lib.run_state_paths(job.run.dir)["backup"]),
                 keras.callbacks.TerminateOnNaN(), throughput, watchdog.beats()]
    if distribute.is_chief(strategy):
        callbacks.append(keras.callbacks.CSVLogger(os.path.join(job.run.dir, "history.csv"), append=resuming))
        if job.train.tensorboard:
            callbacks.append(keras.callbacks.TensorBoard(os.path.join(job.run.dir, "tensorboard"), write_graph=False))
    return callbacks


def _measure(job: GenerativeJob, model, splits: Dict[str, Pairs]) -> Dict[str, Any]:
    ev = job.evaluation
    train, test = splits["train"], splits["test"]
    train_steps = math.ceil(min(train.num_examples, TRAIN_EVAL_EXAMPLES) / job.train.batch_size)
    metrics: Dict[str, Any] = {
        "train": evaluate.split_terms(model, _pipeline(job, train, False), steps=train_steps),
        "test": evaluate.split_terms(model, _pipeline(job, test, False)),
    }
    if job.task == "vae":
        pixels = float(np.prod(train.clean.shape[1:]))
        for split in ("train", "test"):
            metrics[split]["neg_elbo_bits_per_dim"] = metrics[split]["neg_elbo"] / (pixels * math.log(2.0))
        return metrics
    metrics["perturbation_set"] = evaluate.perturbation_set_quality(model, test, ev.examples, ev.radii,
                                                                    ev.pgd_steps, ev.pgd_step_size)
    metrics["closure"] = evaluate.closure(model, test, ev.examples)
    if test.is_bundle:
        metrics["rotation"] = evaluate.rotation(model, test, ev.examples)
    return metrics


def _figures(job: GenerativeJob, model, test: Pairs, history: Dict[str, list]) -> None:
    ev, run_dir = job.evaluation, job.run.dir
    plots.loss_curves(history, os.path.join(run_dir, "loss_curves.png"))
    n = min(ev.traversal_examples, test.num_examples)
    x = evaluate.as_float(test.clean[:n])
    dim = evaluate.traversal_dimension(model, x)
    walk = evaluate.traversal(model, x, dim)
    labels = ["x"] + [f"{t:+.1f}σ" for t in np.linspace(-1.0, 1.0, walk.shape[1])]
    what = "p(z | x): mu_p - sigma_p .. mu_p + sigma_p" if job.task == "cvae" else "mu_q(x) - 1 .. mu_q(x) + 1"
    plots.image_grid(np.concatenate([x[:, None], walk], axis=1), os.path.join(run_dir, "latent_traversal.png"),
                     f"latent traversal of dimension {dim}, {what}", col_labels=labels)
    if job.task == "vae":
        cols = 8
        samples = model.sample(max(cols, ev.samples // cols * cols), seed=job.run.seed).numpy()
        plots.image_grid(samples.reshape((-1, cols) + samples.shape[1:]), os.path.join(run_dir, "samples.png"),
                         "samples: z ~ N(0, I), decoded")
        m = min(8, test.num_examples)
        shown = evaluate.as_float(test.corrupted[:m] if job.data.images == "corrupted" else test.clean[:m])
        plots.image_grid(np.stack([shown, model(shown).numpy()]), os.path.join(run_dir, "reconstructions.png"),
                         "reconstructions from the posterior mean", row_labels=["x", "decoded"])
        return
    per_row = max(1, min(10, ev.samples // max(n, 1)))
    drawn = PerturbationSet.from_model(model).sample(x, per_row, 1.0, seed=(job.run.seed, 7)).numpy()
    plots.image_grid(np.concatenate([x[:, None], np.swapaxes(drawn, 0, 1)], axis=1),
                     os.path.join(run_dir, "samples.png"), "x, then samples of its perturbation set at radius 1",
                     col_labels=["x"] + [str(i + 1) for i in range(per_row)])
    m = min(8, test.num_examples)
    x, y = evaluate.as_float(test.clean[:m]), evaluate.as_float(test.corrupted[:m])
    prior_mean = model.prior(x).mean()
    rows = np.stack([x, y, model({"image": x, "perturbed": y}).numpy(), model.generate(x, prior_mean).numpy()])
    plots.image_grid(rows, os.path.join(run_dir, "reconstructions.png"), "pairs and reconstructions",
                     row_labels=["x", "x'", "g(x, P(x, x'))", "g(x, mu_p)"])


def _full_history(run_dir: str, fallback: Dict[str, list]) -> Dict[str, list]:
    path = os.path.join(run_dir, "history.csv")
    if not os.path.isfile(path):
        return fallback
    with open(path, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    keys = [k for k in (rows[0] if rows else {}) if k != "epoch"]
    return {k: [float(r[k]) for r in rows if r.get(k) not in (None, "")] for k in keys}


def _description(job: GenerativeJob, model, metrics: Dict[str, Any], splits: Dict[str, Pairs]) -> Dict[str, Any]:
    return {
        "task": job.task, "model": config_lib.to_dict(job.model), "latent_dim": model.latent_dim,
        "image_shape": list(model.image_shape), "class_names": splits["train"].class_names,
        "data": config_lib.to_dict(job.data), "run": job.run.name,
        "coverage": metrics.get("perturbation_set", {}).get("coverage"),
        "versions": versions.library_versions(),
    }


def run_generative(job: GenerativeJob) -> GenerativeResult:
    """Trains ``job``'s VAE or CVAE, measures and draws it, and exports it.

    Writes ``config.yaml``, ``history.csv``, ``metrics.json`` and the figures
    (``loss_curves.png``, ``latent_traversal.png``, ``samples.png``,
    ``reconstructions.png``) to ``job.run.dir`` on the chief, and the model to
    ``<export.dir>/<export.name>/<n>/`` (`robustkit.generative.export`).
    Restarted after a crash with the same config, it resumes from the last
    completed epoch.
    """
    strategy = distribute.make_strategy(job.distribute)  # First: it may configure the runtime.
    with watchdog.Watchdog(job.distribute.stall_timeout, "training"):
        return _run(job, strategy)


def _run(job: GenerativeJob, strategy) -> GenerativeResult:
    keras.utils.set_random_seed(job.run.seed)
    chief = distribute.is_chief(strategy)
    resuming = callbacks_lib.is_resuming(job.run.dir)
    os.makedirs(job.run.dir, exist_ok=True)
    if chief:
        config_lib.save(job, os.path.join(job.run.dir, "config.yaml"))
    splits = load_pairs(job.data)
    steps_per_epoch = _steps(job, splits["train"])
    with strategy.scope():
        model = _build(job, splits["train"], steps_per_epoch)
    throughput = callbacks_lib.Throughput(job.train.batch_size)
    history = model.fit(
        _pipeline(job, splits["train"], True),
        epochs=job.train.epochs,
        steps_per_epoch=job.train.steps_per_epoch,
        validation_data=_pipeline(job, splits["val"], False),
        validation_steps=job.train.validation_steps,
        callbacks=_callbacks(job, strategy, throughput, resuming),
        verbose=1 if job.train.progress and sys.stdout.isatty() else 2,
    )
    backup_dir = callbacks_lib.run_state_paths(job.run.dir)["backup"]
    if chief and os.path.isdir(backup_dir) and not os.listdir(backup_dir):
        os.rmdir(backup_dir)  # Keras empties it when training completes.
    for key, values in history.history.items():
        if values and not math.isfinite(float(values[-1])):
            raise FloatingPointError(f"training diverged: final {key} = {values[-1]}; see {job.run.dir}/history.csv")

    metrics: Dict[str, Any] = {"task": job.task, "model": job.model.name, "latent_dim": job.model.latent_dim,
                               "likelihood": job.model.likelihood, "beta": job.train.beta,
                               "regulariser": job.regulariser.weight if job.regulariser.enabled else 0.0,
                               "data": job.data.name, "epochs": job.train.epochs}
    metrics.update(_measure(job, model, splits))
    export_root = os.path.join(job.export.dir, job.export.name)
    export_path = export_generative(model, export_root, _description(job, model, metrics, splits), strategy)
    metrics.update({
        "examples_per_second": throughput.examples_per_second,
        "train_examples": splits["train"].num_examples, "val_examples": splits["val"].num_examples,
        "test_examples": splits["test"].num_examples, "replicas": strategy.num_replicas_in_sync,
        "strategy_class": type(strategy).__name__, "export": export_path, "versions": versions.library_versions(),
    })
    if chief:
        _figures(job, model, splits["test"], _full_history(job.run.dir, history.history))
        outputs.write_json(os.path.join(job.run.dir, "metrics.json"), metrics)
    return GenerativeResult(job.run.dir, export_path, metrics)
