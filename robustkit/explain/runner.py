"""Runs everything ``python -m robustkit.explain`` measures, model by model, on the same examples.

The order of work, so that every mistake a user can fix is reported before any
attack or MC sample runs: build the methods and attacks (config errors), load
the split and the models, check that they fit the data and each other, check
L2 radii, example positions and layer names; then per model: predictions, the
attacks, the saliency maps (clean and adversarial), the activation maps, MC
dropout on clean and adversarial inputs, and the good and bad images.
"""

import dataclasses
import logging
import time
from typing import Dict, List, Optional, Tuple

import numpy as np
import tensorflow as tf
import tf_keras as keras

from robustkit import config as config_lib
from robustkit import distribute, progress
from robustkit.attacks import build_attack
from robustkit.attacks.base import check_l2_epsilons
from robustkit.data import Source, load_split
from robustkit.data.examples import to_arrays
from robustkit.models.loading import PROBE_EXAMPLES, ModelLoadError
from robustkit.replicas import BatchMap
from robustkit.explain import activations, metrics, robustness
from robustkit.explain import models as models_lib
from robustkit.explain.config import ExplainJob, attack_epsilon
from robustkit.explain.gradcam import GradCam
from robustkit.explain.robustness import Robustness
from robustkit.explain.saliency import build_explainer
from robustkit.explain.uncertainty import McDropout, McPredictions

log = logging.getLogger(__name__)


@dataclasses.dataclass
class AttackRun:
    """One attack on one model: its adversarial versions of the first ``len(images)`` examples."""

    label: str
    description: str
    epsilon: Optional[float]
    images: np.ndarray
    predicted: np.ndarray
    seconds: float


@dataclasses.dataclass
class ModelResults:
    """Everything measured on one model (None or empty where its layers were unavailable)."""

    model: models_lib.ExplainModel
    probs: np.ndarray
    attacks: Dict[str, AttackRun] = dataclasses.field(default_factory=dict)
    saliency: Dict[str, Optional[np.ndarray]] = dataclasses.field(default_factory=dict)
    saliency_adversarial: Dict[str, Optional[np.ndarray]] = dataclasses.field(default_factory=dict)
    adversarial_rows: List[int] = dataclasses.field(default_factory=list)
    adversarial_probs: Optional[np.ndarray] = None
    gradcam_layer: Optional[str] = None
    ig_completeness: Optional[float] = None
    activations: Dict[str, Dict[str, np.ndarray]] = dataclasses.field(default_factory=dict)
    mc: Dict[str, McPredictions] = dataclasses.field(default_factory=dict)
    robustness: Optional[Robustness] = None


@dataclasses.dataclass
class Results:
    """What `robustkit.explain.report.write_all` writes."""

    images: np.ndarray
    labels: np.ndarray
    class_names: List[str]
    data: Dict[str, object]
    rows: List[int]
    methods: Dict[str, object]
    attacks: Dict[str, Dict[str, object]]
    models: Dict[str, ModelResults]
    activation_example: int
    robustness_attack: str
    saliency_attack: Optional[str] = None
    saliency_target: str = "predicted"
    saliency_top_k: int = 5


def _fit(models: Dict[str, models_lib.ExplainModel], source: Source) -> Tuple[int, int]:
    """The (size, channels) every model takes, checked against the data and each other."""
    _, _, channels = source.image_shape
    sizes = {m.loaded.input_size for m in models.values() if m.loaded.input_size is not None}
    for m in models.values():
        if m.loaded.channels != channels or m.loaded.num_classes != source.num_classes:
            raise ModelLoadError(f"model {m.name} takes {m.loaded.channels}-channel images and predicts "
                                 f"{m.loaded.num_classes} classes; the data has {channels} channel(s) and "
                                 f"{source.num_classes} classes ({m.path})")
    if len(sizes) > 1:
        raise ModelLoadError("the models take different image sizes (" + ", ".join(
            f"{m.name}: {m.loaded.input_size}" for m in models.values()) + "); explain models of one size together")
    size = sizes.pop() if sizes else source.image_shape[0]
    if size is None:
        raise ModelLoadError("neither the models nor the dataset fix an image size")
    return size, channels


def saliency_rows(labels: np.ndarray, count: int, indices: Optional[List[int]]) -> List[int]:
    """``indices``, or the first example of each class in order of appearance, until ``count``."""
    if indices is not None:
        return list(indices)
    rows, seen = [], set()
    for i, label in enumerate(labels.tolist()):
        if label not in seen:
            rows.append(i)
            seen.add(label)
    rows += [i for i in range(len(labels)) if i not in rows]
    return rows[:count]


def _parts(count: int, batch: int) -> List[slice]:
    return [slice(start, min(start + batch, count)) for start in range(0, count, batch)]


def _batched(fn, images: np.ndarray, batch: int) -> np.ndarray:
    return np.concatenate([np.asarray(fn(images[part])) for part in _parts(len(images), batch)])


def _check_layers(job: ExplainJob, models, explainers) -> None:
    for m in models.values():
        if m.keras_model is None:
            continue
        try:
            activations.choose_layers(m.keras_model, job.activations.layers, job.activations.count)
            for e in explainers.values():
                if isinstance(e, GradCam):
                    e.layer_used(m.keras_model)
        except KeyError as err:
            raise config_lib.ConfigError(f"model {m.name}: {err.args[0]}") from None


def explain(job: ExplainJob, model_paths: Dict[str, str]) -> Results:
    """Runs the whole job; `robustkit.explain.report.write_all` writes what it returns.

    Raises:
      robustkit.errors.UserError: for anything the user can fix, before any heavy work.
    """
    batch_map = BatchMap(distribute.make_strategy(job.distribute))  # First: multi_worker starts before the runtime.
    job.run.dir = distribute.write_dir(job.run.dir, batch_map.strategy)  # Only the chief writes to run.dir.
    explainers = {label: build_explainer(o, job.saliency.max_batch) for label, o in job.methods.items()}
    attacks = {label: build_attack(o) for label, o in job.attacks.items()}
    robust_attack = build_attack(job.robustness.attack)
    source = load_split(job.data, job.data.eval_split, job.data.eval_limit)
    with batch_map.scope():  # Each replica has its own copy of every model's variables.
        models = {name: models_lib.load(name, path) for name, path in model_paths.items()}
    size, channels = _fit(models, source)
    for label, attack in [*attacks.items(), ("robustness", robust_attack)]:
        if attack.norm == "l2":
            eps = job.robustness.epsilons() if label == "robustness" else attack.epsilons
            try:
                check_l2_epsilons(eps, (size, size, channels), f"{label} epsilons")
            except ValueError as err:
                raise config_lib.ConfigError(str(err)) from None
    images, labels = to_arrays(source, size, job.batch_size, job.run.seed)
    count = len(labels)
    rows = saliency_rows(labels, job.saliency.examples, job.saliency.indices)
    for what, index in [("saliency.indices", max(rows)), ("activations.example", job.activations.example)]:
        if index >= count:
            raise config_lib.ConfigError(f"{what}: example {index} does not exist; there are {count} examples "
                                         "(data.eval_limit caps them)")
    for m in models.values():
        models_lib.settle(m, images[:PROBE_EXAMPLES], labels[:PROBE_EXAMPLES])
    _check_layers(job, models, explainers)
    log.info("%d examples of %s:%s at %dx%dx%d", count, job.data.name, job.data.eval_split, size, size, channels)
    class_names = next((m.loaded.class_names for m in models.values() if m.loaded.class_names), None)
    results = Results(
        images=images, labels=labels, class_names=list(class_names or source.class_names),
        data={"name": job.data.name, "split": job.data.eval_split, "examples": count,
              "image_shape": [size, size, channels]},
        rows=rows, methods=explainers, models={}, activation_example=job.activations.example,
        attacks={label: {"description": a.describe(), "epsilon": attack_epsilon(job.attacks[label]),
                         "examples": min(count, job.attacks[label].max_examples or count),
                         "parameters": dataclasses.asdict(job.attacks[label])} for label, a in attacks.items()},
        robustness_attack=robust_attack.describe(), saliency_attack=job.saliency_attack(),
        saliency_target=job.saliency.target, saliency_top_k=job.saliency.top_k)
    keras.utils.set_random_seed(job.run.seed)
    for m in models.values():
        started = time.perf_counter()
        results.models[m.name] = _run_model(job, m, explainers, attacks, robust_attack, images, labels, rows,
                                            batch_map)
        log.info("model %s done in %.1fs", m.name, time.perf_counter() - started)
    return results


def _run_model(job: ExplainJob, m, explainers, attacks, robust_attack, images, labels, rows,
               batch_map: Optional[BatchMap] = None) -> ModelResults:
    batch_map = batch_map or BatchMap()
    logits = _batched(m.logits, images, job.batch_size)
    out = ModelResults(model=m, probs=tf.nn.softmax(logits).numpy())
    for index, (label, attack) in enumerate(attacks.items()):
        started = time.perf_counter()
        n = min(len(labels), job.attacks[label].max_examples or len(labels))
        eps = attack_epsilon(job.attacks[label])

        def per_batch(x, y, seed, attack=attack, eps=eps):
            return attack(m.model, x, y, epsilon=eps, seed=(seed[0], seed[1]))

        parts = _parts(n, job.batch_size)
        batches = [(images[part], labels[part], np.array([job.run.seed, index * 1_000_003 + b], np.int64))
                   for b, part in enumerate(parts)]
        adversarial = []
        with progress.Stage(f"{m.name}: {label}", n) as stage:
            for part, adv in zip(parts, batch_map.imap(per_batch, batches)):
                adversarial.append(adv)
                stage.advance(part.stop - part.start)
            adversarial = np.concatenate(adversarial)
            predicted = np.argmax(_batched(m.logits, adversarial, job.batch_size), axis=-1)
            out.attacks[label] = AttackRun(label, attack.describe(), eps, adversarial, predicted,
                                           time.perf_counter() - started)
            stage.close(f"{m.name}: {label} on {n} examples, accuracy {float(np.mean(predicted == labels[:n])):.4f} "
                        f"({out.attacks[label].seconds:.1f}s)")
    _saliency(job, m, explainers, images, labels, rows, out)
    if m.keras_model is not None:
        _activations(job, m, images, out)
        mc = McDropout(m.keras_model, job.uncertainty.samples, job.uncertainty.max_batch)
        out.mc["clean"] = mc(images)
        for label in job.uncertainty_attacks():
            out.mc[label] = mc(out.attacks[label].images)
        log.info("%s: MC dropout (%d samples) clean accuracy %.4f", m.name, job.uncertainty.samples,
                 metrics.accuracy(out.mc["clean"].mean, labels))
    out.robustness = robustness.search(
        robust_attack, m.model, m.logits, images, labels, job.robustness.epsilons(), job.batch_size,
        job.robustness.examples, job.run.seed, job.robustness.attack.max_examples)
    return out


def _saliency(job: ExplainJob, m, explainers, images, labels, rows, out: ModelResults) -> None:
    attack = job.saliency_attack()
    adversarial_rows = [r for r in rows if attack is not None and r < len(out.attacks[attack].images)]
    out.adversarial_rows = adversarial_rows
    sets = [("clean", images[rows], out.probs[rows], labels[rows], out.saliency)]
    if adversarial_rows:
        adv = out.attacks[attack].images[adversarial_rows]
        probs = out.adversarial_probs = tf.nn.softmax(m.logits(adv)).numpy()
        sets.append(("adversarial", adv, probs, labels[adversarial_rows], out.saliency_adversarial))
    for kind, x, probs, y, store in sets:
        targets = np.argmax(probs, axis=-1) if job.saliency.target == "predicted" else y
        for label, explainer in explainers.items():
            if explainer.needs_layers and m.keras_model is None:
                store[label] = None
                continue
            with progress.Stage(f"{m.name}: {label} on {kind} images", len(x)) as stage:
                store[label] = explainer(m.model, x, targets).numpy()
                stage.advance(len(x))
            if isinstance(explainer, GradCam):
                out.gradcam_layer = explainer.layer_used(m.keras_model)
            if kind == "clean" and explainer.options.name == "integrated_gradients" and explainer.signed:
                baseline = np.full_like(x, explainer.options.baseline)
                gap = (m.logits(x).numpy() - m.logits(baseline).numpy())[np.arange(len(x)), targets]
                total = store[label].reshape(len(x), -1).sum(axis=1)
                out.ig_completeness = float(np.max(np.abs(total - gap) / np.maximum(np.abs(gap), 1e-6)))


def _activations(job: ExplainJob, m, images, out: ModelResults) -> None:
    example = job.activations.example
    layers = activations.choose_layers(m.keras_model, job.activations.layers, job.activations.count)
    columns = {"clean": images[example]}
    columns.update({label: run.images[example] for label, run in out.attacks.items() if example < len(run.images)})
    outputs = activations.Activations(m.keras_model, layers)(np.stack(list(columns.values())))
    out.activations = {name: dict(zip(columns, maps)) for name, maps in outputs.items()}
