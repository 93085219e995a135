# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""What a SymmFlow training loop needs besides the model, the objective and the data, one job per module:

* `presets.py`: the named presets (`PRESETS`, `preset_row`): the paper's settings and the project's measured ones;
* `components.py`: the models to train (`load_pixel_unet`, `load_latent_models`, `add_lora`,
  `unet_without_adapters`);
* `optimization.py`: the learning-rate schedules (`make_lr_scheduler`, the authors' one-cycle schedule);
* `ema.py`: the weights' moving average (`make_ema`, `ema_weights`);
* `checkpointing.py`: atomic, verified checkpoints and resuming from them (`save_checkpoint`,
  `resolve_resume_checkpoint`, the process, shared and EMA state, ...);
* `output_lock.py`: `lock_output_dir`, which keeps a second run out of an output directory in use;
* `validation.py`: scoring and image grids during training (`run_validation`);
* `model_card.py`: the trained pipeline's `README.md` (`make_model_card`) and `push_to_hub`.

`examples/train_symmflow.py` is their command-line front end; its flags carry the argument names used here, and it
turns the names these modules' errors write in backticks into its `--flags`.
"""

from .checkpointing import (
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
from .components import (
    LORA_TARGET_MODULES,
    MANAGED_UNET_KEYS,
    add_lora,
    check_unet_config,
    load_latent_models,
    load_pixel_unet,
    unet_without_adapters,
)
from .ema import ema_weights, make_ema
from .model_card import escape_markdown, make_model_card, push_to_hub
from .optimization import ONE_CYCLE_START_LR, make_lr_scheduler
from .output_lock import OUTPUT_DIR_LOCK, OUTPUT_DIR_LOCK_HOLDER, OutputDirLock, OutputDirLockedError, lock_output_dir
from .presets import PRESET_SETTINGS, PRESETS, preset_row
from .validation import ValidationResult, image_grid, rgb_uint8, run_validation
