"""`diffusers_symmflow.training_utils`, the training helpers' import path before `diffusers_symmflow.training`."""

from diffusers_symmflow import training_utils
from diffusers_symmflow.training import checkpointing, components, ema, model_card, output_lock


# Every public name the module had when it held the helpers itself (users and examples/demo_app.py import them).
PUBLIC_NAMES = {
    checkpointing: [
        "CHECKPOINT_MARKER",
        "CHECKPOINT_PREFIX",
        "LEGACY_EMA_FILE",
        "LEGACY_PROCESS_STATE_FILE",
        "PROCESS_STATE_FILE",
        "SHARED_STATE_FILE",
        "changed_settings",
        "checkpoint_step",
        "ema_checkpoint_state",
        "is_complete_checkpoint",
        "latest_checkpoint",
        "list_checkpoints",
        "load_ema_checkpoint_state",
        "load_process_state",
        "load_shared_state",
        "non_finite_parameters",
        "prune_checkpoints",
        "read_checkpoint_metadata",
        "resolve_resume_checkpoint",
        "save_checkpoint",
        "verify_checkpoint",
    ],
    components: ["unet_without_adapters"],
    ema: ["ema_weights"],
    model_card: ["escape_markdown", "make_model_card", "push_to_hub"],
    output_lock: [
        "OUTPUT_DIR_LOCK",
        "OUTPUT_DIR_LOCK_HOLDER",
        "OutputDirLock",
        "OutputDirLockedError",
        "lock_output_dir",
    ],
}


def test_the_old_import_path_still_offers_every_public_name():
    for module, names in PUBLIC_NAMES.items():
        for name in names:
            # The very object of its new home, so a monkeypatch or an isinstance check means the same on both paths.
            assert getattr(training_utils, name) is getattr(module, name), name
    from diffusers_symmflow.training_utils import escape_markdown  # as examples/demo_app.py imports it

    assert escape_markdown("a|b") == "a\\|b"
