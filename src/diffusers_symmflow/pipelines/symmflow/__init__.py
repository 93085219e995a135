"""The SymmFlow pipeline family (diffusers' `pipelines/<name>/` layout, as `pipelines/marigold/`).

* `pipeline_symmflow.py`: `SymmFlowPipeline`, generation from labels and the shared solver loop;
* `pipeline_symmflow_prediction.py`: its `segment` / `classify` (t: 1 -> 0);
* `pipeline_symmflow_edit.py`: its `invert` / `edit` (conditional models);
* `symmflow_encoding.py`: images and class ids to the model's state and back (pixels or VAE latents);
* `symmflow_loading.py`: saving and loading through plain diffusers;
* `symmflow_image_processing.py`: `SymmFlowImageProcessor`, user inputs to tensors and back;
* `pipeline_output.py`: the outputs of each entry point.
"""

from .pipeline_output import (
    SymmFlowClassificationOutput,
    SymmFlowEditOutput,
    SymmFlowGenerationOutput,
    SymmFlowInversionOutput,
    SymmFlowSegmentationOutput,
)
from .pipeline_symmflow import SymmFlowPipeline
from .symmflow_image_processing import SymmFlowImageProcessor
