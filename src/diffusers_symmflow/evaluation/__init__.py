"""Evaluation of SymmFlow pipelines.

`metrics.py` (mIoU / accuracy) and `fid.py` (FID / KID and their feature extractors) score; `evaluate.py` runs a
pipeline over an evaluation set and scores it; `data.py` reads the items and draws the noise; `feature_models.py`
builds the default feature classifier and LPIPS; `report.py` holds the results and writes JSON, markdown and plots.
"""

from .data import make_generators
from .evaluate import (
    DEFAULT_STEPS,
    evaluate_classification,
    evaluate_generation,
    evaluate_pipeline,
    evaluate_segmentation,
    resolve_guidance_scales,
    resolve_sampling_modes,
)
from .feature_models import build_default_feature_classifier, default_excluded_classes
from .fid import (
    FeatureClassifier,
    FeatureClassifierTraining,
    FeatureStats,
    ImageFeatureExtractor,
    KIDOutput,
    frechet_distance,
    frechet_distance_from_stats,
    kernel_inception_distance,
    load_feature_extractor,
    load_module,
    train_feature_classifier,
)
from .metrics import (
    MeanIoUOutput,
    accuracy,
    accuracy_from_confusion_matrix,
    confusion_matrix,
    iou_from_confusion_matrix,
    label_confusion_matrix,
    label_scores,
    mask_majority_class,
    mean_iou,
)
from .report import EvaluationResults, generation_row, summarize_report
