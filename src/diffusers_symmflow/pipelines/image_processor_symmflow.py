# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""The module path `SymmFlowImageProcessor` had before the pipeline family folder; it now lives in
`pipelines/symmflow/symmflow_image_processing.py`. Kept so that old imports keep working."""

from .symmflow.symmflow_image_processing import SymmFlowImageProcessor  # noqa: F401
