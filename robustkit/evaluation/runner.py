"""Scores every model on exactly the same examples under every configured attack.

The order of work, so that every mistake a user can fix is reported before
any attack runs: build the attacks (config errors), check the transfer
surrogates, load the split, load the models and check that they fit the data
and each other, check L2 radii against the image size; then measure clean
accuracy, input gradients, every attack at every epsilon, the large-epsilon
PGD check, the per-example worst case, and the sanity checks.

Seed (section 6): a white-box attack is made per model on its own gradients;
a transfer attack is made once on its surrogate and every model is scored on
the same perturbed images, as is noise.
"""

import dataclasses
import functools
import logging
import time
from typing import Dict, List, Optional, Tuple

import numpy as np
import tensorflow as tf

from robustkit import config as config_lib
from robustkit import distribute, progress
from robustkit.attacks import build_attack
from robustkit.attacks.autoattack_cascade import AutoAttack
from robustkit.attacks.base import Attack, check_l2_epsilons, cross_entropy
from robustkit.attacks.gradient import GradientAttack, PgdConfig
from robustkit.data import Source, load_split
from robustkit.data.examples import to_arrays
from robustkit.evaluation import aa_checks, cascade, sanity
from robustkit.evaluation import corruption
from robustkit.evaluation.config import ValidateJob
from robustkit.models.loading import PROBE_EXAMPLES, Model, ModelLoadError, load_model
from robustkit.models.paths import resolve_model_path
from robustkit.replicas import BatchMap
from robustkit.evaluation.scoring import AttackInfo, Results, score, worst_case

log = logging.getLogger(__name__)


def _surrogates(job: ValidateJob, model_paths: Dict[str, str]) -> Dict[str, str]:
    """attack label -> a ``--model`` name or a resolved path, for each transfer attack."""
    found = {}
    for label, options in job.attacks.items():
        surrogate = getattr(options, "surrogate", None)
        if surrogate is None:
            continue
        if surrogate in model_paths:
            found[label] = surrogate
        else:
            found[label] = resolve_model_path(
                surrogate, what=f"attacks.{label}.surrogate (not one of the --model names {sorted(model_paths)})"
            )
    return found


def _fit(models: Dict[str, Model], source: Source) -> Tuple[int, int]:
    """The (size, channels) every model takes, checked against the data."""
    height, width, channels = source.image_shape
    sizes = {m.input_size for m in models.values() if m.input_size is not None}
    for model in models.values():
        if model.channels != channels:
            raise ModelLoadError(
                f"model {model.name} takes {model.channels}-channel images but {source.split} of the dataset has "
                f"{channels} channel(s) ({model.path})"
            )
        if model.num_classes != source.num_classes:
            raise ModelLoadError(
                f"model {model.name} predicts {model.num_classes} classes but the dataset has {source.num_classes}"
                f" ({model.path})"
            )
    if len(sizes) > 1:
        shapes = ", ".join(f"{m.name}: {m.input_size}x{m.input_size}" for m in models.values())
        raise ModelLoadError(f"the models take different image sizes ({shapes}); attacks need one image space, so "
                             "validate models of one input size together")
    if sizes:
        return sizes.pop(), channels
    if height is None:
        raise ModelLoadError("neither the models nor the dataset fix an image size")
    return height, channels


def _batches(count: int, size: int):
    for index, start in enumerate(range(0, count, size)):
        yield index, slice(start, min(start + size, count))


class _Predictor:
    """Compiled argmax per model."""

    def __init__(self):
        self._fns = {}

    def tensor(self, model: Model, images) -> tf.Tensor:
        """The predicted classes as a tensor (callable on any replica)."""
        key = id(model)
        if key not in self._fns:
            self._fns[key] = (model, tf.function(lambda x: tf.argmax(model(x), axis=-1), reduce_retracing=True))
        return self._fns[key][1](tf.convert_to_tensor(images, tf.float32))

    def __call__(self, model: Model, images) -> np.ndarray:
        return self.tensor(model, images).numpy()


def _gradient_stats(model: Model, images: np.ndarray, labels: np.ndarray, batch: int,
                    batch_map: BatchMap) -> Dict[str, float]:
    @tf.function(reduce_retracing=True)
    def grads(x, y):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(cross_entropy(model(x), y))
        g = tf.reshape(tape.gradient(loss, x), [tf.shape(x)[0], -1])
        return (tf.reduce_any(tf.math.is_nan(g), axis=1), tf.reduce_all(tf.equal(g, 0.0), axis=1),
                tf.reduce_mean(tf.abs(g), axis=1))

    out = batch_map(grads, [(images[part], labels[part]) for _, part in _batches(len(images), batch)])
    nan, zero, mean_abs = (np.concatenate([o[k] for o in out]) for k in range(3))
    return {"examples": len(images), "nan": int(nan.sum()), "zero": int(zero.sum()),
            "mean_abs": float(np.nanmean(mean_abs))}


def _info(label: str, attack: Attack, examples: int) -> AttackInfo:
    name = attack.options.name
    kind = {"transfer": "transfer", "noise": "noise", "square": "black_box"}.get(name, "white_box")
    return AttackInfo(label=label, name=name, norm=attack.norm, kind=kind, targeted=attack.targeted,
                      examples=examples, description=attack.describe(), parameters=dataclasses.asdict(attack.options))


def validate(job: ValidateJob, model_paths: Dict[str, str]) -> Results:
    """Runs the whole validation; `robustkit.evaluation.report.write_all` writes what it returns.

    Args:
      job: the resolved config.
      model_paths: ``--model`` name -> resolved path (`robustkit.models.paths.parse_model_flags`).

    Raises:
      robustkit.errors.UserError: for anything the user can fix, before any attack runs.
    """
    strategy = distribute.make_strategy(job.distribute)  # First: multi_worker must start before the runtime.
    attacks = {label: build_attack(options) for label, options in job.attacks.items()}
    surrogate_of = _surrogates(job, model_paths)
    source = load_split(job.data, job.data.eval_split, job.data.eval_limit)
    with strategy.scope():  # Each replica has its own copy of every model's variables.
        models = {name: load_model(name, path) for name, path in model_paths.items()}
        extra = {path: load_model(f"surrogate {path}", path)
                 for path in set(surrogate_of.values()) if path not in models}
    size, channels = _fit({**models, **extra}, source)
    _check_l2(attacks, (size, size, channels))
    images, labels = to_arrays(source, size, job.batch_size, job.run.seed)
    log.info("%d examples of %s:%s at %dx%dx%d", len(labels), job.data.name, job.data.eval_split, size, size,
             channels)
    surrogates = {label: models.get(name) or extra[name] for label, name in surrogate_of.items()}
    return run(job, models, images, labels, data={"name": job.data.name, "split": job.data.eval_split},
               class_names=source.class_names, surrogates=surrogates, attacks=attacks, strategy=strategy)


def _check_l2(attacks: Dict[str, Attack], image_shape: Tuple[int, int, int]) -> None:
    for label, attack in attacks.items():
        if attack.norm == "l2":
            try:
                check_l2_epsilons(attack.epsilons, image_shape, f"attacks.{label}.epsilons")
            except ValueError as err:
                raise config_lib.ConfigError(str(err)) from None


def run(job: ValidateJob, models: Dict[str, Model], images: np.ndarray, labels: np.ndarray, *,
        data: Dict[str, str], class_names: Optional[List[str]] = None,
        surrogates: Optional[Dict[str, Model]] = None, attacks: Optional[Dict[str, Attack]] = None,
        strategy: Optional[tf.distribute.Strategy] = None) -> Results:
    """The engine of `validate` on examples already in memory (`robustkit.evaluate` calls it directly).

    Args:
      job: the resolved config; its ``data`` block is not read.
      models: name -> loaded model; every model takes ``images`` as they are.
      images, labels: float32 [N, H, W, C] in [0, 1] and int64 [N].
      data: the dataset's name and split, for the records.
      class_names: index -> name (None: the models' own, else the class ids).
      surrogates: transfer attack label -> the model its examples are made on.
      attacks: label -> built attack (None: built from ``job.attacks``).
      strategy: whose replicas share the batches (None: made from ``job.distribute``).
        Every batch is computed as on one device, so the results do not depend
        on it; an ``autoattack`` block runs on one device.
    """
    if attacks is None:
        attacks = {label: build_attack(options) for label, options in job.attacks.items()}
    surrogates = surrogates or {}
    missing = [label for label, a in job.attacks.items() if getattr(a, "surrogate", None) and label not in surrogates]
    if missing:
        raise config_lib.ConfigError(f"attacks {', '.join(missing)} name a surrogate model that is not given")
    size, channels = images.shape[1], images.shape[3]
    _check_l2(attacks, images.shape[1:])
    count = len(labels)
    extra = [m for m in surrogates.values() if all(m is not own for own in models.values())]
    for model in [*models.values(), *extra]:
        model.calibrate(images[:PROBE_EXAMPLES], labels[:PROBE_EXAMPLES])
        log.info("model %s; %s", model.describe(), "; ".join(model.notes))
    batch_map = BatchMap(strategy or distribute.make_strategy(job.distribute))
    predict = _Predictor()
    batches = [(images[p],) for _, p in _batches(count, job.batch_size)]
    clean = {name: np.concatenate(batch_map(functools.partial(predict.tensor, m), batches)) == labels
             for name, m in models.items()}
    class_names = (next((m.class_names for m in models.values() if m.class_names), None) or class_names
                   or [str(i) for i in range(next(iter(models.values())).num_classes)])
    results = Results(models=list(models), num_examples=count, clean=clean, class_names=list(class_names),
                      data={**data, "examples": count, "image_shape": [size, size, channels]})
    results.chief = distribute.is_chief(batch_map.strategy)
    shown = min(job.report.examples, count)
    results.examples["clean_predicted"] = {
        name: predict(m, images[:shown]) for name, m in models.items()
    } if shown else {}
    for name, model in models.items():
        results.models_info[name] = {"path": model.path, "notes": model.notes, "input_range": model.input_range,
                                     "input_shape": [size, size, channels], "num_classes": model.num_classes,
                                     "clean_accuracy": float(np.mean(clean[name]))}
        results.gradients[name] = _gradient_stats(model, images, labels, job.batch_size, batch_map)
        if any(isinstance(a, AutoAttack) for a in attacks.values()):
            results.probes[name] = aa_checks.probe(model, images[:PROBE_EXAMPLES], labels[:PROBE_EXAMPLES])

    example_key = (job.example_attack(), job.example_epsilon())
    for index, (label, attack) in enumerate(attacks.items()):
        limit = min(count, job.attacks[label].max_examples or count)
        info = results.attacks[label] = _info(label, attack, limit)
        maker = surrogates.get(label)
        start = time.perf_counter()
        for epsilon in attack.epsilons:
            run = (cascade.run_autoattack if isinstance(attack, AutoAttack)
                   else functools.partial(_run_one, maker=maker, batch_map=batch_map))
            run(job, results, label, attack, info, epsilon, models, images=images[:limit], labels=labels[:limit],
                index=index, predict=predict, keep=(label, epsilon) == example_key)
        info.seconds = time.perf_counter() - start

    _large_epsilon_check(job, results, models, images, labels, predict, batch_map)
    results.worst_case = worst_case(results)
    results.sanity = sanity.run_checks(results, job.sanity)
    if results.probes:  # AutoAttack's own warnings, when an autoattack block ran.
        results.sanity += aa_checks.run_checks(results)
    if job.corruptions is not None:  # The corruption benchmark, after the attacks.
        results.corruptions = corruption.evaluate(job, models, images, labels)
    return results


def _run_one(job, results: Results, label: str, attack: Attack, info: AttackInfo, epsilon: Optional[float],
             models: Dict[str, Model], images, labels, index: int, predict: _Predictor, keep: bool,
             batch_map: BatchMap, maker: Optional[Model] = None) -> None:
    """One attack at one epsilon on every model, batch by batch (one batch per replica at a time)."""
    started = time.perf_counter()
    names = list(models)

    def per_batch(x, y, seed):
        seed = (seed[0], seed[1])
        shared = attack(maker, x, y, epsilon=epsilon, seed=seed) if attack.shares_examples else None
        out = []
        for name in names:
            adv = shared if shared is not None else attack(models[name], x, y, epsilon=epsilon, seed=seed)
            out += [adv, predict.tensor(models[name], adv)]
            if attack.targeted:
                out.append(attack.targets(maker or models[name], x, y, seed))
        return tuple(out)

    eps = "" if epsilon is None else f" epsilon {epsilon:g}"
    with progress.Stage(f"{label}{eps}", len(labels)) as stage:
        predicted = {name: [] for name in models}
        targets = {name: [] for name in models}
        deltas = {name: [] for name in models}
        measures: Dict[str, Dict[str, list]] = {name: {} for name in models}
        right = {name: 0 for name in models}
        shown = min(job.report.examples, len(labels))
        parts = [part for _, part in _batches(len(labels), job.batch_size)]
        batches = [(images[part], labels[part], np.array([job.run.seed, index * 1_000_003 + batch], np.int64))
                   for batch, part in enumerate(parts)]
        width = 3 if attack.targeted else 2
        for batch, (part, out) in enumerate(zip(parts, batch_map.imap(per_batch, batches))):
            x = images[part]
            for i, name in enumerate(names):
                adv_np, pred = out[i * width], out[i * width + 1]
                predicted[name].append(pred)
                right[name] += int(np.sum(pred == labels[part]))
                deltas[name].append(adv_np - x)
                if attack.targeted:
                    targets[name].append(out[i * width + 2])
                for key, values in attack.measures(x, adv_np).items():
                    measures[name].setdefault(key, []).append(values)
                if keep and batch == 0 and shown:
                    results.examples.setdefault("adversarial", {})[name] = adv_np[:shown]
                    results.examples.setdefault("predicted", {})[name] = pred[:shown]
            stage.advance(part.stop - part.start, {name: right[name] / part.stop for name in models})
        if keep and shown:
            results.examples.update(attack=label, epsilon=epsilon, images=images[:shown], labels=labels[:shown],
                                    description=info.description)
        summary = []
        for name in models:
            row, correct = score(
                name, info, epsilon, results.clean[name][:len(labels)], np.concatenate(predicted[name]), labels,
                np.concatenate(deltas[name]), np.concatenate(targets[name]) if attack.targeted else None,
                {k: np.concatenate(v) for k, v in measures[name].items()},
            )
            results.rows.append(row)
            results.correct[(name, label, epsilon)] = correct
            summary.append(f"{name} {row.accuracy:.4f}")
        stage.close(f"{label}{eps}: accuracy {', '.join(summary)} ({time.perf_counter() - started:.1f}s)")


def _large_epsilon_check(job: ValidateJob, results: Results, models: Dict[str, Model], images, labels,
                         predict: _Predictor, batch_map: BatchMap) -> None:
    options = job.sanity
    pgd = GradientAttack(PgdConfig(epsilons=[options.large_epsilon], iterations=options.large_epsilon_iterations),
                         norm="linf", iterations=options.large_epsilon_iterations, step_size=2.5, random_start=True)
    n = min(options.examples, len(labels))
    for name, model in models.items():
        def per_batch(x, y, seed, model=model):
            adv = pgd(model, x, y, epsilon=options.large_epsilon, seed=(seed[0], seed[1]))
            return tf.equal(predict.tensor(model, adv), y)

        batches = [(images[part], labels[part], np.array([job.run.seed, batch], np.int64))
                   for batch, part in _batches(n, job.batch_size)]
        correct = batch_map(per_batch, batches)
        results.large_epsilon[name] = {"epsilon": options.large_epsilon, "iterations": options.large_epsilon_iterations,
                                       "examples": n, "accuracy": float(np.mean(np.concatenate(correct)))}
