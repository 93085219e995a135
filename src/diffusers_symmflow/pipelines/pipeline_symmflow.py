# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""The module path `SymmFlowPipeline` had before the pipeline family folder (`pipelines/symmflow/`); kept so that
`from diffusers_symmflow.pipelines.pipeline_symmflow import ...` keeps working. New code imports from
`diffusers_symmflow` or `diffusers_symmflow.pipelines`.

Saved pipelines do not depend on this path: their `model_index.json` names `["pipeline_symmflow", "SymmFlowPipeline"]`,
the loader module `save_pretrained` writes beside it, which imports the class from the package root.
"""

from ..models.velocity import LABEL_TIME_MODEL  # noqa: F401
from ..schedulers.scheduling_symmflow import SAMPLING_MODES  # noqa: F401
from .symmflow.pipeline_output import (  # noqa: F401
    SymmFlowClassificationOutput,
    SymmFlowEditOutput,
    SymmFlowGenerationOutput,
    SymmFlowInversionOutput,
    SymmFlowSegmentationOutput,
)
from .symmflow.pipeline_symmflow import (  # noqa: F401
    EXAMPLE_DOC_STRING,
    OUTPUT_TYPES,
    PIXEL_IMAGE_CHANNELS,
    SymmFlowPipeline,
)
from .symmflow.symmflow_image_processing import SymmFlowImageProcessor  # noqa: F401
from .symmflow.symmflow_loading import (  # noqa: F401
    _CUSTOM_PIPELINE_CODE,
    CUSTOM_PIPELINE_MODULE,
    LABEL_SPACE_KEY,
    OBJECTIVE_CONFIG_NAME,
)
