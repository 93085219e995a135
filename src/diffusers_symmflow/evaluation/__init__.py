"""Evaluation of SymmFlow pipelines: segmentation / classification scores, FID / KID, and the evaluation runner."""

from .evaluate import (
    DEFAULT_STEPS,
    EvaluationResults,
    build_default_feature_classifier,
    default_excluded_classes,
    evaluate_classification,
    evaluate_generation,
    evaluate_pipeline,
    evaluate_segmentation,
    make_generators,
    resolve_sampling_modes,
)
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
    mask_majority_class,
    mean_iou,
)
