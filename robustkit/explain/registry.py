"""The attribution-method registry: every method's name, options class and class.

Importing this module imports no TensorFlow: the options classes come from
`robustkit.explain.options`, and each method's module is imported when the
method is first built (`robustkit.explain.saliency.build_explainer`).
"""

from robustkit.explain.options import (
    GradCamConfig,
    GuidedBackpropConfig,
    IntegratedGradientsConfig,
    SmoothGradConfig,
    VanillaConfig,
)
from robustkit.registry import Registry

EXPLAINERS = Registry("explainer")
EXPLAINERS.register("vanilla", "robustkit.explain.saliency:VanillaGradient", VanillaConfig)
EXPLAINERS.register("smoothgrad", "robustkit.explain.saliency:SmoothGrad", SmoothGradConfig)
EXPLAINERS.register("integrated_gradients", "robustkit.explain.saliency:IntegratedGradients",
                    IntegratedGradientsConfig)
EXPLAINERS.register("gradcam", "robustkit.explain.gradcam:GradCam", GradCamConfig)
EXPLAINERS.register("guided_backprop", "robustkit.explain.saliency:GuidedBackprop", GuidedBackpropConfig)
