"""robustkit from Python: the functions `import robustkit` offers (see the README's "Python API").

Each one is the engine of an entry point with arrays, models and dicts in place
of files and flags, validated as the entry point validates its config:

- ``robustkit.train(config, **sections)``: ``python -m robustkit.train`` (`robustkit.train.train`).
- `evaluate(models, images, labels, attacks=...)`: ``python -m robustkit.validate_adv``
  on examples in memory; returns the `Results` its report is written from.
- ``robustkit.explain(models, config, **sections)``: ``python -m robustkit.explain``
  (`robustkit.explain.front.explain`).
- `load_examples(dataset, split, limit)`: a split as arrays, as the tools read it.
- `load_model(path)`: any SavedModel or Keras file as a callable from images in [0, 1] to logits.
- `load_perturbation_set(path)`: a CVAE export as a learned perturbation set.

A config is a YAML path, a mapping, or a job object (`TrainJob`, `ValidateJob`,
...); keyword sections are merged over it key by key, e.g.
``train("configs/quickstart_base.yaml", train={"epochs": 1}, data={"train_limit": 2000})``.
"""

import os
from typing import Any, Iterable, Mapping, Optional, Union

from robustkit import config as config_lib


def _validate_job(attacks: Union[None, Iterable[str], Mapping[str, Any]], extra: Mapping[str, Any]):
    from robustkit.evaluation.config import ValidateJob

    if attacks is None:
        attacks = ["pgd"]
    if isinstance(attacks, str):
        attacks = [attacks]
    blocks = dict(attacks) if isinstance(attacks, Mapping) else {name: {} for name in attacks}
    return config_lib.parse(ValidateJob, {**extra, "attacks": blocks}, source="robustkit.evaluate")


def evaluate(models: Mapping[str, Any], images: Any, labels: Any, attacks: Union[None, Iterable[str], Mapping] = None,
             *, out_dir: Optional[str] = None, class_names: Optional[Iterable[str]] = None, **sections: Any):
    """Scores every model on the same examples, clean and under every attack, with the sanity checks.

    Args:
      models: name -> a Keras model, a callable returning logits, or a model path.
      images, labels: float [N, H, W, C] in [0, 1] and integer class ids [N].
      attacks: attack names (``["pgd", "autoattack"]``, each with its config
        defaults) or label -> config block (``{"pgd": {"epsilons": [0.1],
        "iterations": 20}}``), as under ``attacks:`` in a validate_adv config.
        None: PGD with its defaults.
      out_dir: also write metrics.json, robust_accuracy.csv, the figures and
        report.html there, as ``validate_adv`` does.
      class_names: index -> name, for the report.
      sections: other blocks of a validate_adv config (``batch_size``,
        ``sanity``, ``report``, ``run``).

    Returns:
      `robustkit.evaluation.scoring.Results`: e.g. ``results.clean_accuracy("base")``,
      ``results.accuracy("base", "pgd", 0.1)``, ``results.worst_case``, ``results.sanity``.
    """
    from robustkit.attacks.functional import as_arrays
    from robustkit.evaluation import report, runner
    from robustkit.models import loading

    if not models:
        raise ValueError("models must name at least one model, e.g. {'base': model}")
    job = _validate_job(attacks, sections)
    images, labels = as_arrays(images, labels)
    loaded = {}
    for name, model in models.items():
        if isinstance(model, (str, os.PathLike)):
            loaded[name] = loading.load_model(name, os.fspath(model))
        else:
            loaded[name] = loading.from_callable(name, model, images.shape[1:])
    surrogates = {}
    for label, block in job.attacks.items():
        surrogate = getattr(block, "surrogate", None)
        if surrogate is not None:
            if surrogate not in loaded:
                raise config_lib.ConfigError(f"attacks.{label}.surrogate = {surrogate!r} is not one of the models "
                                             f"{sorted(loaded)}")
            surrogates[label] = loaded[surrogate]
    results = runner.run(job, loaded, images, labels, data={"name": "arrays", "split": "given"},
                         class_names=None if class_names is None else list(class_names), surrogates=surrogates)
    if out_dir is not None:
        config_lib.save(job, os.path.join(out_dir, "config.yaml"), command="robustkit.evaluate(...)")
        report.write_all(results, out_dir, job.run.seed, "robustkit.evaluate(...)")
    return results


def load_examples(dataset: Union[str, Mapping[str, Any]] = "fashion_mnist", split: str = "test",
                  limit: Optional[int] = None, image_size: Optional[int] = None):
    """One split of a dataset as ``(images, labels)``: float32 [N, S, S, C] in [0, 1] and int64 [N].

    Args:
      dataset: a dataset name (``fashion_mnist``, ``mnist``, ``tiny_imagenet``,
        ``tfds``) or a ``data:`` block of a config (``{"name": "tfds", "builder": ...}``).
      split: ``train``, ``test``, ``val`` or a TFDS split string.
      limit: the first ``limit`` examples (None: all).
      image_size: resize to this size (None: the dataset's).
    """
    from robustkit.data import DATASETS, load_split
    from robustkit.data.examples import to_arrays

    block = {"name": dataset} if isinstance(dataset, str) else dict(dataset)
    name = block.get("name")
    if name not in DATASETS:
        raise config_lib.ConfigError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS.names())}")
    options = config_lib.parse(DATASETS.options(name), block, source="robustkit.load_examples")
    return to_arrays(load_split(options, split, limit), image_size)


def load_model(path: Union[str, os.PathLike], name: Optional[str] = None):
    """A SavedModel directory, a model root of numbered versions or a Keras file, as a callable.

    The result maps float images in [0, 1] to logits (``model(images)``), is
    differentiable, and carries ``num_classes``, ``input_size``, ``class_names``
    and ``notes`` (what was inferred about the file).
    """
    from robustkit.models import loading

    path = os.fspath(path)
    return loading.load_model(name or os.path.basename(os.path.normpath(path)), path)


def load_perturbation_set(path: Union[str, os.PathLike]):
    """A CVAE export as a `robustkit.generative.perturbation.PerturbationSet`."""
    from robustkit.generative.perturbation import load_perturbation_set as load

    return load(os.fspath(path))
