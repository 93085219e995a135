from diffusers import ModelMixin, SchedulerMixin  # noqa: F401

from .unets.unet_symmflow_2d import PIXEL_UNET_PRESETS, symmflow_unet2d_config
from .unets.unet_symmflow_2d_condition import SymmFlowUNet2DConditionModel, encode_empty_prompt
from .velocity import (
    LABEL_INPUTS,
    LABEL_PREDICTIONS,
    LabelHead,
    check_label_prediction,
    predict_model_output,
    predict_velocity,
    supports_label_time,
)
