"""Model registry: every model takes ``image`` in [0, 1] and returns logits."""

from robustkit.models import mobilenetv2, small_cnn
from robustkit.models.options import ModelConfig
from robustkit.registry import Registry

MODELS = Registry("model")
MODELS.register("mobilenetv2", mobilenetv2.build, mobilenetv2.MobileNetV2Config)
MODELS.register("small_cnn", small_cnn.build, small_cnn.SmallCNNConfig)


def build_model(options: ModelConfig, num_classes: int, channels: int):
    """Builds the model a ``model`` config section names (inside a strategy scope)."""
    return MODELS.build(options, num_classes=num_classes, channels=channels)


__all__ = ["MODELS", "ModelConfig", "build_model"]
