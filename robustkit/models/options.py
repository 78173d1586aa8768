"""Config keys every model has (no TensorFlow import here)."""

import dataclasses


@dataclasses.dataclass
class ModelConfig:
    """Keys every model has; each model's options class extends this.

    Attributes:
      name: the model (see `robustkit.models.MODELS`).
      input_size: the square input resolution; the data pipeline resizes to it.
    """

    name: str = "small_cnn"
    input_size: int = 28

    def __post_init__(self):
        if self.input_size < 8:
            raise ValueError(f"model.input_size = {self.input_size} must be at least 8 pixels")
