# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""The import path the training helpers had before `diffusers_symmflow.training`; kept so that
`from diffusers_symmflow.training_utils import ...` keeps working with every name it offered. New code imports from
the modules where the names live:

* checkpoints (saving, finding, verifying, resuming; process, shared and EMA state): `training.checkpointing`;
* the output-directory lock: `training.output_lock`;
* `ema_weights`: `training.ema`;
* `unet_without_adapters`: `training.components`;
* the model card (`make_model_card`, `escape_markdown`) and `push_to_hub`: `training.model_card`.
"""

from .training.checkpointing import (  # noqa: F401
    CHECKPOINT_MARKER,
    CHECKPOINT_PREFIX,
    LEGACY_EMA_FILE,
    LEGACY_PROCESS_STATE_FILE,
    PROCESS_STATE_FILE,
    SHARED_STATE_FILE,
    changed_settings,
    checkpoint_step,
    ema_checkpoint_state,
    is_complete_checkpoint,
    latest_checkpoint,
    list_checkpoints,
    load_ema_checkpoint_state,
    load_process_state,
    load_shared_state,
    non_finite_parameters,
    prune_checkpoints,
    read_checkpoint_metadata,
    resolve_resume_checkpoint,
    save_checkpoint,
    verify_checkpoint,
)
from .training.components import unet_without_adapters  # noqa: F401
from .training.ema import ema_weights  # noqa: F401
from .training.model_card import escape_markdown, make_model_card, push_to_hub  # noqa: F401
from .training.output_lock import (  # noqa: F401
    OUTPUT_DIR_LOCK,
    OUTPUT_DIR_LOCK_HOLDER,
    OutputDirLock,
    OutputDirLockedError,
    lock_output_dir,
)
