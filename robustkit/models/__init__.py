"""Model registry: every model takes ``image`` in [0, 1] and returns logits.

Importing this package imports no TensorFlow: `MODELS` holds the options
classes (`robustkit.models.options`) and imports each builder when it is first
used.
"""

from robustkit.models.options import MobileNetV2Config, ModelConfig, SmallCNNConfig
from robustkit.registry import Registry

MODELS = Registry("model")
MODELS.register("mobilenetv2", "robustkit.models.mobilenetv2:build", MobileNetV2Config)
MODELS.register("small_cnn", "robustkit.models.small_cnn:build", SmallCNNConfig)


def build_model(options: ModelConfig, num_classes: int, channels: int):
    """Builds the model a ``model`` config section names (inside a strategy scope)."""
    return MODELS.build(options, num_classes=num_classes, channels=channels)


__all__ = ["MODELS", "ModelConfig", "build_model"]
