# The diffusers pipeline loader looks these base classes up by name on a component's package.
from diffusers import DiffusionPipeline, ModelMixin, SchedulerMixin  # noqa: F401

from .symmflow import (
    SymmFlowClassificationOutput,
    SymmFlowEditOutput,
    SymmFlowGenerationOutput,
    SymmFlowImageProcessor,
    SymmFlowInversionOutput,
    SymmFlowPipeline,
    SymmFlowSegmentationOutput,
)
