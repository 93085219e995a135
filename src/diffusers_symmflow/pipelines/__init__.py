# The diffusers pipeline loader looks these base classes up by name on a component's package.
from diffusers import DiffusionPipeline, ModelMixin, SchedulerMixin  # noqa: F401

from .image_processor_symmflow import SymmFlowImageProcessor
from .pipeline_symmflow import (
    SymmFlowClassificationOutput,
    SymmFlowEditOutput,
    SymmFlowGenerationOutput,
    SymmFlowInversionOutput,
    SymmFlowPipeline,
    SymmFlowSegmentationOutput,
)
