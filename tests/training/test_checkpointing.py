"""Checkpoints: atomic saves, pruning, finding the latest, verification, process state without pickle."""

import logging
import os

import pytest
import torch

from diffusers_symmflow.training import checkpointing
from diffusers_symmflow.training.checkpointing import (
    CHECKPOINT_MARKER,
    LEGACY_PROCESS_STATE_FILE,
    PROCESS_STATE_FILE,
    changed_settings,
    latest_checkpoint,
    list_checkpoints,
    load_process_state,
    non_finite_parameters,
    read_checkpoint_metadata,
    resolve_resume_checkpoint,
    save_checkpoint,
    verify_checkpoint,
)


def make_complete(output_dir, step: int) -> str:
    path = os.path.join(output_dir, f"checkpoint-{step}")
    os.makedirs(path)
    with open(os.path.join(path, CHECKPOINT_MARKER), "w") as file:
        file.write(f'{{"step": {step}}}')
    return path


def test_latest_skips_interrupted_saves_with_a_warning(tmp_path, caplog):
    make_complete(tmp_path, 2)
    make_complete(tmp_path, 10)
    os.makedirs(tmp_path / "checkpoint-30.tmp-abc")  # killed while writing
    os.makedirs(tmp_path / "checkpoint-20")  # no completion marker
    (tmp_path / "checkpoint-40").write_text("not a directory")
    with caplog.at_level(logging.WARNING, logger="diffusers_symmflow.training.checkpointing"):
        assert latest_checkpoint(str(tmp_path)) == str(tmp_path / "checkpoint-10")
    skipped = " ".join(record.getMessage() for record in caplog.records)
    assert "checkpoint-30.tmp-abc" in skipped and "checkpoint-20" in skipped
    assert [step for step, _ in list_checkpoints(str(tmp_path))] == [2, 10]  # numeric order, not "10" < "2"
    assert latest_checkpoint(str(tmp_path / "missing")) is None


def test_resolve_resume_checkpoint(tmp_path):
    assert resolve_resume_checkpoint("latest", str(tmp_path)) is None
    path = make_complete(tmp_path, 4)
    assert resolve_resume_checkpoint("latest", str(tmp_path)) == path
    assert resolve_resume_checkpoint("checkpoint-4", str(tmp_path)) == path  # looked up in output_dir
    os.makedirs(tmp_path / "checkpoint-8")
    # The errors name the argument (the training script says it as its flag).
    with pytest.raises(ValueError, match=r"^`resume_from_checkpoint` '.*checkpoint-8': .* not a complete checkpoint"):
        resolve_resume_checkpoint(str(tmp_path / "checkpoint-8"), str(tmp_path))
    with pytest.raises(ValueError, match=r"^`resume_from_checkpoint` 'checkpoint-99': no such checkpoint"):
        resolve_resume_checkpoint("checkpoint-99", str(tmp_path))


def test_save_checkpoint_is_atomic_and_prunes_after_success(tmp_path, accelerator, monkeypatch):
    accelerator, model = accelerator
    output_dir = str(tmp_path)
    os.makedirs(tmp_path / "checkpoint-1.tmp-stale")  # left by an earlier kill
    for step in (1, 2, 3):
        with torch.no_grad():
            model.weight.fill_(step)
        state = {"generator": torch.Generator().manual_seed(step).get_state()}
        path = save_checkpoint(
            accelerator, output_dir, step, process_state=state, metadata={"epoch": 0}, total_limit=2
        )
        assert path == os.path.join(output_dir, f"checkpoint-{step}")
    assert sorted(os.listdir(output_dir)) == ["checkpoint-2", "checkpoint-3"]  # pruned, stale leftovers removed
    assert read_checkpoint_metadata(path)["step"] == 3 and read_checkpoint_metadata(path)["epoch"] == 0
    restored = torch.Generator()
    restored.set_state(load_process_state(path, 0)["generator"])
    assert torch.equal(torch.rand(3, generator=restored), torch.rand(3, generator=torch.Generator().manual_seed(3)))
    assert load_process_state(path, 1) is None

    # A kill between writing the state and renaming it: the half-written directory is never resumed from, and
    # the older checkpoints are all still there (pruning only follows a successful save).
    def killed(src, dst):
        raise KeyboardInterrupt("killed during the save")

    monkeypatch.setattr(checkpointing.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(accelerator, output_dir, 4, total_limit=1)
    monkeypatch.undo()
    assert any(name.startswith("checkpoint-4.tmp-") for name in os.listdir(output_dir))
    assert latest_checkpoint(output_dir) == os.path.join(output_dir, "checkpoint-3")
    accelerator.load_state(latest_checkpoint(output_dir))
    assert torch.all(model.weight == 3)

    # Saving the same step again (a run resumed from an older checkpoint) replaces it whole.
    with torch.no_grad():
        model.weight.fill_(7)
    save_checkpoint(accelerator, output_dir, 3, total_limit=2)
    assert sorted(os.listdir(output_dir)) == ["checkpoint-2", "checkpoint-3"]
    accelerator.load_state(os.path.join(output_dir, "checkpoint-3"))
    assert torch.all(model.weight == 7)


@pytest.mark.parametrize("damage", ["truncated", "deleted", "bad header"])
def test_latest_falls_back_from_a_damaged_checkpoint(tmp_path, accelerator, caplog, damage):
    accelerator, model = accelerator
    output_dir = str(tmp_path)
    for step in (1, 2):
        with torch.no_grad():
            model.weight.fill_(step)
        save_checkpoint(accelerator, output_dir, step)
    weights = tmp_path / "checkpoint-2" / "model.safetensors"
    assert weights.is_file()
    if damage == "truncated":
        weights.write_bytes(weights.read_bytes()[:-10])
    elif damage == "deleted":
        weights.unlink()
    else:
        weights.write_bytes(b"\xff" * 8 + weights.read_bytes()[8:])

    with caplog.at_level(logging.WARNING, logger="diffusers_symmflow.training.checkpointing"):
        path = resolve_resume_checkpoint("latest", output_dir)
    assert path == str(tmp_path / "checkpoint-1")
    warning = " ".join(record.getMessage() for record in caplog.records)
    assert f"Not resuming from {tmp_path / 'checkpoint-2'}" in warning and str(weights) in warning
    accelerator.load_state(path)
    assert torch.all(model.weight == 1)

    with pytest.raises(ValueError, match=f"checkpoint-2 is damaged: {weights}"):
        resolve_resume_checkpoint("checkpoint-2", output_dir)
    (tmp_path / "checkpoint-1" / "model.safetensors").unlink()
    with pytest.raises(
        ValueError, match="^`resume_from_checkpoint` 'latest': every complete checkpoint .* is damaged"
    ):
        resolve_resume_checkpoint("latest", output_dir)


def test_process_state_is_stored_without_pickle_and_a_planted_pickle_never_runs(tmp_path, accelerator, planted_pickle):
    accelerator, _ = accelerator
    state = {"generator": torch.Generator().manual_seed(5).get_state(), "stream": {"position": 3, "epoch": [1, None]}}
    path = save_checkpoint(accelerator, str(tmp_path / "out"), 1, process_state=state)
    file = os.path.join(path, PROCESS_STATE_FILE.format(0))
    assert file.endswith(".safetensors")
    assert not os.path.exists(os.path.join(path, LEGACY_PROCESS_STATE_FILE.format(0)))
    loaded = load_process_state(path, 0)
    assert torch.equal(loaded["generator"], state["generator"]) and loaded["stream"] == state["stream"]

    ran = tmp_path / "code-ran"
    torch.save({"generator": planted_pickle(ran)}, tmp_path / "evil.pt")
    # Planted in place of the state file: the hash catches it, and reading it never unpickles.
    os.replace(tmp_path / "evil.pt", file)
    assert any(f"{file} " in problem for problem in verify_checkpoint(path))
    with pytest.raises(ValueError, match="not a readable process state"):
        load_process_state(path, 0)
    assert not ran.exists()

    # A checkpoint of an earlier version (a `torch.save` file): plain values load, anything else is refused.
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    torch.save(state, legacy / LEGACY_PROCESS_STATE_FILE.format(0))
    loaded = load_process_state(str(legacy), 0)
    assert torch.equal(loaded["generator"], state["generator"]) and loaded["stream"] == state["stream"]
    torch.save({"generator": planted_pickle(ran)}, legacy / LEGACY_PROCESS_STATE_FILE.format(0))
    with pytest.raises(ValueError, match="was not loaded .loading it could run code"):
        load_process_state(str(legacy), 0)
    assert not ran.exists()
    torch.load(legacy / LEGACY_PROCESS_STATE_FILE.format(0), weights_only=False)  # what the old code did
    assert ran.exists()


def test_latest_falls_back_from_a_same_size_change_of_the_optimizer_state(tmp_path, accelerator, caplog):
    accelerator, model = accelerator
    optimizer = accelerator.prepare(torch.optim.AdamW(model.parameters()))
    output_dir = str(tmp_path)
    for step in (1, 2):
        model(torch.ones(1, 3)).sum().backward()
        optimizer.step()
        save_checkpoint(accelerator, output_dir, step)
    optimizer_state = tmp_path / "checkpoint-2" / "optimizer.bin"
    data = bytearray(optimizer_state.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size: the sizes alone passed this
    optimizer_state.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="diffusers_symmflow.training.checkpointing"):
        assert resolve_resume_checkpoint("latest", output_dir) == str(tmp_path / "checkpoint-1")
    assert f"{optimizer_state} has changed since it was saved" in caplog.text
    with pytest.raises(ValueError, match="optimizer.bin has changed since it was saved"):
        resolve_resume_checkpoint("checkpoint-2", output_dir)
    files = read_checkpoint_metadata(str(tmp_path / "checkpoint-1"))["files"]
    assert set(files["optimizer.bin"]) == {"size", "sha256"}


def test_markers_without_hashes_still_verify_by_size(tmp_path):
    path = make_complete(tmp_path, 3)
    (tmp_path / "checkpoint-3" / "optimizer.bin").write_bytes(b"12345")
    with open(os.path.join(path, CHECKPOINT_MARKER), "w") as file:
        file.write('{"step": 3, "files": {"optimizer.bin": 5}}')
    assert verify_checkpoint(path) == []
    (tmp_path / "checkpoint-3" / "optimizer.bin").write_bytes(b"1234")
    assert verify_checkpoint(path) == [f"{tmp_path / 'checkpoint-3' / 'optimizer.bin'} is 4 bytes, 5 when saved"]


def test_changed_settings_names_what_differs():
    saved = {"num_classes": 11, "unet": {"block_out_channels": [16, 32], "layers_per_block": 1}, "use_ema": False}
    current = {
        "num_classes": 3,
        "unet": {"block_out_channels": (16, 32), "layers_per_block": 2},
        "use_ema": False,
        "new_setting": 1,
    }
    assert changed_settings(saved, current) == [("num_classes", 11, 3), ("unet.layers_per_block", 1, 2)]
    assert changed_settings({}, current) == []  # a checkpoint from before settings were recorded


def test_non_finite_parameters():
    model = torch.nn.BatchNorm1d(2)
    assert non_finite_parameters(model) == []
    with torch.no_grad():
        model.weight[1] = float("nan")
    model.running_var[0] = float("inf")
    assert non_finite_parameters(model) == ["weight", "running_var"]
