"""diffusers-symmflow: Symmetrical Flow Matching (SymmFlow) for diffusers.

One model generates images from semantic labels and, integrated the other way, segments and classifies images.
"""

# The diffusers pipeline loader looks these base classes up by name on a component's package: keep them here.
from diffusers import DiffusionPipeline, ModelMixin, SchedulerMixin  # noqa: F401

from .models import (
    SymmFlowUNet2DConditionModel,
    encode_empty_prompt,
    predict_velocity,
    supports_label_time,
    symmflow_unet2d_config,
)
from .objective import SymmFlowLoss, SymmFlowObjective, SymmFlowTrainingInputs
from .schedulers import SymmFlowScheduler, SymmFlowSchedulerOutput


__version__ = "0.1.0"
