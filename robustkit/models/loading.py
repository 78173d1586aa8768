"""Loads any image classifier as a differentiable function: float images in [0, 1] -> logits.

Sources (see `robustkit.models.paths` for how a PATH is resolved):

- SavedModels, robustkit's own or any other (Keras 2 ``model.save``, Keras 3
  ``model.export``, plain `tf.Module`): the signature ``serve_float`` if
  present, else ``serving_default``, else ``serve``, else the only one. Its one
  image input and its class-score output are found from the signature.
- Keras model files (``.h5``, ``.keras``) that tf-keras reads.

What the signature does not say is measured on a probe batch of the evaluation
data (`Model.calibrate`): which input range gives the best accuracy ([0, 1],
[0, 255] or [-1, 1]) for float inputs of models other than robustkit's, and
whether the output is a probability vector (non-negative rows summing to 1), in
which case the logits are recovered as ``log(p)`` (equal to the logits up to a
per-example constant, which changes neither the softmax nor any attack).
A uint8 input is attacked through a copy of the SavedModel that takes the same
pixel values as float32 (`robustkit.models.retype`), since a gradient
cannot flow into an integer tensor. Each such finding is recorded in
`Model.notes` and shown in the report.
"""

import logging
import os
import shutil
import tempfile
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import tensorflow as tf
import tf_keras as keras

from robustkit.errors import UserError
from robustkit.models import retype
from robustkit.models.paths import resolve_model_path

log = logging.getLogger(__name__)

SIGNATURE_ORDER = ("serve_float", "serving_default", "serve")
RANGES: Dict[str, Tuple[float, float]] = {"[0, 1]": (1.0, 0.0), "[0, 255]": (255.0, 0.0), "[-1, 1]": (2.0, -1.0)}
RANGE_MARGIN = 0.1  # A range other than [0, 1] must win the probe by this much accuracy.
PROBE_EXAMPLES = 256  # Examples `Model.calibrate` measures on.


class ModelLoadError(UserError, ValueError):
    """A model that cannot be loaded or used as an image classifier."""


class Model:
    """A loaded classifier, called as ``model(images) -> logits`` (differentiable, usable in `tf.function`).

    Attributes:
      name: its ``--model`` name.
      path: the SavedModel directory or Keras file loaded.
      height, width, channels: its input shape (height and width None when any size goes).
      num_classes: its number of classes.
      class_names: from ``assets/labels.txt`` when the SavedModel has one, else None.
      notes: what had to be inferred or recovered, one sentence each.
      input_range: the pixel range its input expects.
      probabilities: whether its output was found to be probabilities.
    """

    def __init__(self, name: str, path: str, raw: Callable[[tf.Tensor], tf.Tensor], *, shape, num_classes,
                 class_names=None, notes=None, range_known=False, logits_known=False, keep=None):
        self.name, self.path = name, path
        self._raw = raw
        self._keep = keep  # The loaded object owns the variables the functions read.
        self.height, self.width, self.channels = shape
        self.num_classes = num_classes
        self.class_names: Optional[List[str]] = class_names
        self.notes: List[str] = list(notes or [])
        self.input_range = "[0, 255]" if range_known == "uint8" else "[0, 1]"
        self._range_known = bool(range_known)
        self._logits_known = logits_known
        self.probabilities = False

    @property
    def input_size(self) -> Optional[int]:
        return self.height

    def __call__(self, images: tf.Tensor) -> tf.Tensor:
        scale, offset = RANGES[self.input_range]
        out = tf.cast(self._raw(images * scale + offset), tf.float32)
        return tf.math.log(tf.maximum(out, 1e-30)) if self.probabilities else out

    def calibrate(self, images: np.ndarray, labels: np.ndarray) -> None:
        """Settles the input range and the output kind on a probe batch (see the module docstring)."""
        if not self._range_known:
            accuracy = {}
            for name, (scale, offset) in RANGES.items():
                out = self._raw(tf.constant(images * scale + offset, tf.float32)).numpy()
                accuracy[name] = float(np.mean(np.argmax(out, axis=-1) == labels))
            best = max(accuracy, key=accuracy.get)
            if best != "[0, 1]" and accuracy[best] >= accuracy["[0, 1]"] + RANGE_MARGIN:
                self.input_range = best
                self.notes.append(
                    f"input range {best} detected: probe accuracy {accuracy[best]:.3f} against "
                    f"{accuracy['[0, 1]']:.3f} for [0, 1]"
                )
            self._range_known = True
        if self._logits_known:
            return
        scale, offset = RANGES[self.input_range]
        out = self._raw(tf.constant(images * scale + offset, tf.float32)).numpy().astype(np.float64)
        if out.min() >= -1e-6 and np.allclose(out.sum(axis=-1), 1.0, atol=1e-3):
            self.probabilities = True
            self.notes.append("the output holds probabilities (non-negative rows summing to 1): logits recovered "
                              "as log(probabilities)")
        self._logits_known = True

    def describe(self) -> str:
        size = f"{self.height}x{self.width}x{self.channels}" if self.height else f"any size x {self.channels}"
        return f"{self.name}: {self.path} ({size}, {self.num_classes} classes)"


def load_model(name: str, path: str) -> Model:
    """Loads ``path`` (resolved as in `robustkit.models.paths`) as a `Model` named ``name``.

    Raises:
      ModelLoadError: if it is not a single-input image classifier we can read.
    """
    path = resolve_model_path(path, what=f"model {name}")
    if os.path.isfile(path):
        return _from_keras_file(name, path)
    return _from_saved_model(name, path)


def from_callable(name: str, model: Callable, image_shape: Tuple[int, int, int]) -> Model:
    """Wraps an in-memory classifier (a Keras model or any callable from images in [0, 1] to class scores).

    Its input range is taken to be [0, 1]; whether it returns probabilities is
    measured by `Model.calibrate`, as for a loaded model.

    Raises:
      ModelLoadError: if it does not map a batch of ``image_shape`` images to one score row per image.
    """
    if isinstance(model, Model):
        return model
    if isinstance(model, keras.Model):
        raw = lambda x: model(x, training=False)  # noqa: E731
        notes = [f"in-memory Keras model {model.name!r}"]
    elif callable(model):
        raw = model
        notes = [f"in-memory callable {getattr(model, '__name__', type(model).__name__)!r}"]
    else:
        raise ModelLoadError(f"model {name}: expected a Keras model, a callable returning logits or a model path, "
                             f"got {type(model).__name__}")
    out = tf.convert_to_tensor(raw(tf.zeros([1, *image_shape], tf.float32)))
    if out.shape.rank != 2 or out.shape[0] != 1 or not out.shape[1] or out.shape[1] < 2:
        raise ModelLoadError(f"model {name}: on a batch of one {'x'.join(map(str, image_shape))} image it returned "
                             f"shape {out.shape.as_list()}; expected [1, classes] class scores")
    return Model(name, "<in memory>", raw, shape=tuple(image_shape), num_classes=int(out.shape[1]), notes=notes,
                 range_known=True, keep=model)


def _image_shape(shape: tf.TensorShape, where: str) -> Tuple[Optional[int], Optional[int], int]:
    dims = shape.as_list() if shape.rank is not None else None
    if dims is None or len(dims) not in (3, 4):
        raise ModelLoadError(f"{where} takes input of shape {shape}; expected images [batch, height, width, channels]")
    if dims[0] is not None:
        raise ModelLoadError(f"{where} takes batches of exactly {dims[0]}; re-export it with a free batch dimension")
    height, width = dims[1], dims[2]
    channels = dims[3] if len(dims) == 4 else 1
    if channels is None:
        raise ModelLoadError(f"{where} does not fix its number of channels ({shape})")
    if height != width:
        raise ModelLoadError(f"{where} takes {height}x{width} images; robustkit evaluates square images only")
    return height, width, channels


def _classes(shape: tf.TensorShape, where: str) -> int:
    dims = shape.as_list() if shape.rank is not None else None
    if dims is None or len(dims) != 2 or dims[1] is None or dims[1] < 2:
        raise ModelLoadError(f"{where} outputs shape {shape}; expected class scores [batch, classes]")
    return dims[1]


def _pick_output(outputs: Dict[str, tf.TensorSpec], where: str) -> Tuple[str, List[str]]:
    scores = {k: s for k, s in outputs.items() if s.dtype.is_floating and s.shape.rank == 2}
    if "logits" in scores:
        return "logits", []
    if not scores:
        raise ModelLoadError(f"{where} has no float [batch, classes] output among {sorted(outputs)}")
    key = sorted(scores)[0]
    for hint in ("logit", "prob", "softmax", "pred", "score", "output"):
        matches = [k for k in sorted(scores) if hint in k.lower()]
        if matches:
            key = matches[0]
            break
    notes = [f"class scores read from output {key!r} of {sorted(outputs)}"] if len(scores) > 1 else []
    return key, notes


def _from_saved_model(name: str, path: str) -> Model:
    try:
        loaded = tf.saved_model.load(path)
    except Exception as err:  # noqa: BLE001 - TensorFlow raises many types here.
        raise ModelLoadError(f"model {name}: cannot load the SavedModel {path!r}: {err}") from None
    signatures = dict(loaded.signatures)
    key = next((k for k in SIGNATURE_ORDER if k in signatures), None)
    if key is None and len(signatures) == 1:
        key = next(iter(signatures))
    if key is None:
        raise ModelLoadError(
            f"model {name}: the SavedModel {path!r} has signatures {sorted(signatures) or 'none'}; expected one of "
            f"{', '.join(SIGNATURE_ORDER)} (or exactly one)"
        )
    fn = signatures[key]
    where = f"model {name} ({path}, signature {key!r})"
    args, kwargs = fn.structured_input_signature
    inputs = {k: s for k, s in kwargs.items()} if kwargs else {str(i): s for i, s in enumerate(args)}
    if len(inputs) != 1:
        raise ModelLoadError(f"{where} has inputs {sorted(inputs)}; expected one image input")
    input_key, spec = next(iter(inputs.items()))
    shape = _image_shape(spec.shape, where)
    output_key, notes = _pick_output(dict(fn.structured_outputs), where)
    num_classes = _classes(fn.structured_outputs[output_key].shape, where)
    notes.insert(0, f"signature {key!r}, input {input_key!r} ({spec.dtype.name}), output {output_key!r}")
    rank = spec.shape.rank
    keep = [loaded]
    if spec.dtype == tf.uint8:
        float_fn, copy = _float_signature(path, key, where)
        keep.append(copy)
        raw = _reshaped(lambda x: float_fn(**{input_key: x})[output_key], rank)
        notes.append("uint8 input: pixels scaled to [0, 255] and fed as float32 to a copy of the graph whose "
                     "cast to float is the identity, so gradients reach them (adversarial pixels are not rounded)")
        range_known = "uint8"
    elif spec.dtype.is_floating:
        raw = _reshaped(lambda x: fn(**{input_key: tf.cast(x, spec.dtype)})[output_key], rank)
        range_known = key == "serve_float" and output_key == "logits"  # robustkit's own export.
    else:
        raise ModelLoadError(f"{where} takes {spec.dtype.name} input; expected float or uint8 images")
    labels_file = os.path.join(path, "assets", "labels.txt")
    class_names = None
    if os.path.isfile(labels_file):
        with open(labels_file, encoding="utf-8") as f:
            class_names = [line.rstrip("\n") for line in f if line.strip()]
    return Model(name, path, raw, shape=shape, num_classes=num_classes, class_names=class_names, notes=notes,
                 range_known=range_known, logits_known=output_key == "logits", keep=keep)


def _float_signature(path: str, key: str, where: str):
    """Signature ``key`` of a float32 copy of the SavedModel (see `robustkit.models.retype`)."""
    work = tempfile.mkdtemp(prefix="robustkit-float-")
    try:
        retype.float_copy(path, key, work)
        copy = tf.saved_model.load(work)
    except retype.RetypeError as err:
        raise ModelLoadError(f"{where}: {err}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)  # The variables are in memory once loaded.
    return copy.signatures[key], copy


def _reshaped(fn: Callable, rank: int) -> Callable:
    """Feeds [B, H, W, 1] images to a graph that takes [B, H, W]."""
    if rank == 3:
        return lambda x: fn(tf.squeeze(x, axis=-1))
    return fn


def _from_keras_file(name: str, path: str) -> Model:
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as err:  # noqa: BLE001 - Keras raises many types here.
        raise ModelLoadError(
            f"model {name}: tf-keras cannot read {path!r} ({type(err).__name__}: {err}). A Keras 3 .keras file, or "
            "one with custom layers, cannot be read here: export it as a SavedModel (Keras 3: model.export(DIR); "
            "Keras 2: model.save(DIR)) and pass that directory"
        ) from None
    where = f"model {name} ({path})"
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ModelLoadError(f"{where} has {len(model.inputs)} inputs and {len(model.outputs)} outputs; expected one "
                             "image input and one class-score output")
    if not model.inputs[0].dtype.is_floating:
        raise ModelLoadError(f"{where} takes {model.inputs[0].dtype.name} input; expected float images")
    shape = _image_shape(model.inputs[0].shape, where)
    num_classes = _classes(model.outputs[0].shape, where)
    raw = _reshaped(lambda x: model(x, training=False), model.inputs[0].shape.rank)
    notes = [f"Keras file, input {model.input_names[0]!r}, output {model.output_names[0]!r}"]
    return Model(name, path, raw, shape=shape, num_classes=num_classes, notes=notes, keep=model)
