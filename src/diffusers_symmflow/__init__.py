"""diffusers-symmflow: Symmetrical Flow Matching (SymmFlow) for diffusers.

One model generates images from semantic labels and, integrated the other way, segments and classifies images.
"""

# The diffusers pipeline loader looks these base classes up by name on a component's package: keep them here.
from diffusers import DiffusionPipeline, ModelMixin, SchedulerMixin  # noqa: F401

from .evaluation import (
    FeatureClassifier,
    accuracy,
    confusion_matrix,
    frechet_distance,
    kernel_inception_distance,
    load_feature_extractor,
    mean_iou,
    train_feature_classifier,
)
from .labels import LABEL_ENCODINGS, LabelCodec, LabelDecoding, dequantize
from .models import (
    SymmFlowUNet2DConditionModel,
    encode_empty_prompt,
    predict_velocity,
    supports_label_time,
    symmflow_unet2d_config,
)
from .objective import SymmFlowLoss, SymmFlowObjective, SymmFlowTrainingInputs
from .palettes import (
    CELEBAMASK_HQ_CLASSES,
    CELEBAMASK_HQ_PALETTE,
    COCO_STUFF_PALETTE,
    COCO_STUFF_UNUSED_IDS,
    coco_stuff_id_map,
    generate_palette,
    resolve_palette,
)
from .pipelines import (
    SymmFlowClassificationOutput,
    SymmFlowEditOutput,
    SymmFlowGenerationOutput,
    SymmFlowImageProcessor,
    SymmFlowInversionOutput,
    SymmFlowPipeline,
    SymmFlowSegmentationOutput,
)
from .schedulers import SymmFlowScheduler, SymmFlowSchedulerOutput


__version__ = "0.1.0"
