"""Checkpoint atomicity and pruning, validation metrics, EMA swapping, LoRA merging and the model card (CPU)."""

import logging
import os

import pytest
import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState, GradientState

from diffusers_symmflow import training_utils
from diffusers_symmflow.training_utils import (
    CHECKPOINT_MARKER,
    LEGACY_PROCESS_STATE_FILE,
    OUTPUT_DIR_LOCK,
    PROCESS_STATE_FILE,
    OutputDirLockedError,
    changed_settings,
    ema_checkpoint_state,
    ema_weights,
    latest_checkpoint,
    list_checkpoints,
    load_ema_checkpoint_state,
    load_process_state,
    lock_output_dir,
    make_model_card,
    non_finite_parameters,
    read_checkpoint_metadata,
    resolve_resume_checkpoint,
    save_checkpoint,
    unet_without_adapters,
    verify_checkpoint,
)


@pytest.fixture
def accelerator():
    AcceleratorState._reset_state(True)
    GradientState._reset_state()
    accelerator = Accelerator(cpu=True)
    model = accelerator.prepare(torch.nn.Linear(3, 2))
    yield accelerator, model
    AcceleratorState._reset_state(True)
    GradientState._reset_state()


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
    with caplog.at_level(logging.WARNING, logger="diffusers_symmflow.training_utils"):
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
    with pytest.raises(ValueError, match="not a complete checkpoint"):
        resolve_resume_checkpoint(str(tmp_path / "checkpoint-8"), str(tmp_path))
    with pytest.raises(ValueError, match="no such checkpoint"):
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

    monkeypatch.setattr(training_utils.os, "replace", killed)
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

    with caplog.at_level(logging.WARNING, logger="diffusers_symmflow.training_utils"):
        path = resolve_resume_checkpoint("latest", output_dir)
    assert path == str(tmp_path / "checkpoint-1")
    warning = " ".join(record.getMessage() for record in caplog.records)
    assert f"Not resuming from {tmp_path / 'checkpoint-2'}" in warning and str(weights) in warning
    accelerator.load_state(path)
    assert torch.all(model.weight == 1)

    with pytest.raises(ValueError, match=f"checkpoint-2 is damaged: {weights}"):
        resolve_resume_checkpoint("checkpoint-2", output_dir)
    (tmp_path / "checkpoint-1" / "model.safetensors").unlink()
    with pytest.raises(ValueError, match="every complete checkpoint .* is damaged"):
        resolve_resume_checkpoint("latest", output_dir)


class PlantedPickle:
    """Unpickling it creates the directory `path`: proof that code from the file ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return os.mkdir, (self.path,)


def test_process_state_is_stored_without_pickle_and_a_planted_pickle_never_runs(tmp_path, accelerator):
    accelerator, _ = accelerator
    state = {"generator": torch.Generator().manual_seed(5).get_state(), "stream": {"position": 3, "epoch": [1, None]}}
    path = save_checkpoint(accelerator, str(tmp_path / "out"), 1, process_state=state)
    file = os.path.join(path, PROCESS_STATE_FILE.format(0))
    assert file.endswith(".safetensors")
    assert not os.path.exists(os.path.join(path, LEGACY_PROCESS_STATE_FILE.format(0)))
    loaded = load_process_state(path, 0)
    assert torch.equal(loaded["generator"], state["generator"]) and loaded["stream"] == state["stream"]

    ran = tmp_path / "code-ran"
    torch.save({"generator": PlantedPickle(ran)}, tmp_path / "evil.pt")
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
    torch.save({"generator": PlantedPickle(ran)}, legacy / LEGACY_PROCESS_STATE_FILE.format(0))
    with pytest.raises(ValueError, match="was not loaded .loading it could run code"):
        load_process_state(str(legacy), 0)
    assert not ran.exists()
    torch.load(legacy / LEGACY_PROCESS_STATE_FILE.format(0), weights_only=False)  # what the old code did
    assert ran.exists()


def test_ema_is_saved_without_pickle_and_a_legacy_one_is_read_safely(tmp_path, accelerator):
    from diffusers.training_utils import EMAModel

    accelerator, model = accelerator
    ema = EMAModel(model.parameters(), decay=0.5)
    with torch.no_grad():
        model.weight.add_(1.0)
    ema.step(model.parameters())
    path = save_checkpoint(accelerator, str(tmp_path / "out"), 1, shared_state=ema_checkpoint_state(ema))
    assert not any(name.endswith((".pkl", ".pt")) and "custom" in name for name in os.listdir(path))
    restored = EMAModel(torch.nn.Linear(3, 2).parameters(), decay=0.9)
    load_ema_checkpoint_state(restored, path)
    assert restored.decay == 0.5 and restored.optimization_step == ema.optimization_step == 1
    assert all(torch.equal(a, b) for a, b in zip(restored.shadow_params, ema.shadow_params))

    # A checkpoint of an earlier version: the EMA in accelerate's custom_checkpoint_0.pkl, read with weights_only.
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    torch.save(ema.state_dict(), legacy / "custom_checkpoint_0.pkl")
    restored = EMAModel(torch.nn.Linear(3, 2).parameters(), decay=0.9)
    load_ema_checkpoint_state(restored, str(legacy))
    assert all(torch.equal(a, b) for a, b in zip(restored.shadow_params, ema.shadow_params))
    ran = tmp_path / "code-ran"
    torch.save({"shadow_params": [PlantedPickle(ran)]}, legacy / "custom_checkpoint_0.pkl")
    with pytest.raises(ValueError, match="was not loaded .loading it could run code"):
        load_ema_checkpoint_state(restored, str(legacy))
    assert not ran.exists()
    with pytest.raises(ValueError, match="holds no EMA weights"):
        load_ema_checkpoint_state(restored, str(tmp_path))


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
    with caplog.at_level(logging.WARNING, logger="diffusers_symmflow.training_utils"):
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


def test_lock_output_dir_refuses_a_second_run_naming_the_holder(tmp_path, accelerator):
    from filelock import FileLock

    accelerator, _ = accelerator
    output_dir = tmp_path / "out"
    lock = lock_output_dir(accelerator, str(output_dir))
    with pytest.raises(OutputDirLockedError, match=rf"{output_dir} is in use .*process {os.getpid()} on "):
        lock_output_dir(accelerator, str(output_dir))
    lock.release()
    assert not (output_dir / ".symmflow-train.lock.holder.json").exists()
    lock_output_dir(accelerator, str(output_dir)).release()  # free again
    # Held by something that did not say who it is.
    with FileLock(str(output_dir / OUTPUT_DIR_LOCK)):
        with pytest.raises(OutputDirLockedError, match="another process .it has not said which"):
            lock_output_dir(accelerator, str(output_dir))


def test_non_finite_parameters():
    model = torch.nn.BatchNorm1d(2)
    assert non_finite_parameters(model) == []
    with torch.no_grad():
        model.weight[1] = float("nan")
    model.running_var[0] = float("inf")
    assert non_finite_parameters(model) == ["weight", "running_var"]


def test_ema_weights_swaps_in_and_restores():
    from diffusers.training_utils import EMAModel

    model = torch.nn.Linear(2, 2)
    ema = EMAModel(model.parameters(), decay=0.5)
    trained = [p.detach().clone() for p in model.parameters()]
    shadow = [p.clone() for p in ema.shadow_params]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    with ema_weights(ema, model.parameters()):
        assert all(torch.equal(p, s) for p, s in zip(model.parameters(), shadow))
    assert all(torch.equal(p, t + 1.0) for p, t in zip(model.parameters(), trained))
    with ema_weights(None, model.parameters()):
        assert all(torch.equal(p, t + 1.0) for p, t in zip(model.parameters(), trained))


def test_unet_without_adapters_merges_lora_into_a_plain_model(tiny_latent_unet):
    from peft import LoraConfig

    unet = tiny_latent_unet(label_time=True)
    unet.add_adapter(LoraConfig(r=2, lora_alpha=2, init_lora_weights="gaussian", target_modules=["to_q", "to_v"]))
    sample, timestep = torch.randn(1, 8, 8, 8), torch.tensor([500.0])
    with torch.no_grad():
        for name, parameter in unet.named_parameters():
            if "lora_B" in name:
                parameter.normal_(std=0.1)  # gaussian init leaves B at zero; make the adapters matter
        expected = unet(sample, timestep, class_labels=torch.tensor([200.0])).sample
        merged = unet_without_adapters(unet)
        actual = merged(sample, timestep, class_labels=torch.tensor([200.0])).sample
    assert not any("lora" in key for key in merged.state_dict())
    assert any("lora" in key for key in unet.state_dict())  # the training model keeps its adapters
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5)
    plain = tiny_latent_unet(label_time=False)
    assert unet_without_adapters(plain) is plain


def test_model_card_states_modes_metrics_and_hyperparameters():
    common = {
        "task": "segmentation",
        "dataset_description": "MNIST digits.",
        "label_encoding": "onehot",
        "num_classes": 11,
        "class_names": None,
        "hyperparameters": {"learning_rate": 0.002, "label_time": "mixed"},
        "training": {"optimisation steps": 300},
    }
    card = make_model_card(
        sampling_modes=["joint", "conditional"],
        metrics={"mean_iou": 0.61234, "pixel_accuracy": 0.9},
        metrics_step=300,
        repo_id="me/symmflow-mnist",
        sample_image="samples.png",
        **common,
    )
    text = str(card)
    assert card.data.pipeline_tag == "image-segmentation" and card.data.library_name == "diffusers"
    assert "`joint`, `conditional`" in text and "| mIoU | 0.6123 |" in text and "step 300" in text
    assert "| `--learning_rate` | 0.002 |" in text and 'from_pretrained("me/symmflow-mnist")' in text
    assert "![samples](samples.png)" in text and "MNIST digits." in text
    joint_only = str(make_model_card(sampling_modes=["joint"], **common))
    assert "`joint` (the paper's ODE) only" in joint_only and "No validation was run." in joint_only


HOSTILE_NAMES = ["cat", "a\n---\n# Injected heading", "b | c", "<script>alert(1)</script>", "`code` *bold* [x](y)"]


def test_model_card_shows_hostile_class_names_and_values_as_text():
    from huggingface_hub import ModelCard

    hostile_id = "me/x\n---\nlicense: mit"
    card = make_model_card(
        task="segmentation",
        dataset_description="Stripes\n# Injected",
        label_encoding="onehot",
        num_classes=5,
        class_names=HOSTILE_NAMES,
        sampling_modes=["joint"],
        hyperparameters={"unet_config": "my\n## config|x.json"},
        training={"steps": 3},
        dataset_id=hostile_id,
        base_model=hostile_id,
        repo_id='me/"x"\n# y',
    )
    text = str(card)
    body = text.split("\n---\n", 1)[1]
    # Only the card's own headings, one table row per hyper-parameter, no HTML and no front matter rule in the body.
    assert [line for line in body.splitlines() if line.startswith("#")] == [
        "# SymmFlow segmentation model",
        "## Usage",
        "## Validation",
        "## Training",
        "### Hyper-parameters",
    ]
    assert "<script>" not in text.split("\n---\n", 1)[1] and "\\<script\\>alert(1)\\</script\\>" in body
    assert "---" not in body.splitlines()
    task_line = next(line for line in body.splitlines() if line.startswith("- **Task**"))
    assert task_line == (
        "- **Task**: segmentation, 5 classes (cat, a --- \\# Injected heading, b \\| c, "
        "\\<script\\>alert(1)\\</script\\>, \\`code\\` \\*bold\\* \\[x\\](y))"
    )
    assert "| `--unet_config` | my \\#\\# config\\|x.json |" in body
    assert "- **Dataset**: Stripes # Injected" in body
    assert 'SymmFlowPipeline.from_pretrained("me/\\"x\\"\\n# y")' in body  # a Python string, on its line
    # The YAML front matter survives: yaml quotes what it holds, and the card reads back what was written.
    data = ModelCard(text).data
    assert data.datasets == [hostile_id] and data.base_model == hostile_id
    assert data.pipeline_tag == "image-segmentation" and data.license == "apache-2.0"


def test_model_card_loading_code_runs_through_plain_diffusers(tmp_path, tiny_pixel_unet):
    """The card's first code block, pointed at a saved pipeline, loads it with `DiffusionPipeline`."""
    import re

    from diffusers_symmflow import SymmFlowPipeline, SymmFlowScheduler

    SymmFlowPipeline(
        unet=tiny_pixel_unet(image_channels=1, label_channels=3), scheduler=SymmFlowScheduler(), num_classes=3
    ).save_pretrained(tmp_path / "pipe")
    card = str(
        make_model_card(
            task="segmentation",
            dataset_description="stripes",
            label_encoding="onehot",
            num_classes=3,
            class_names=None,
            sampling_modes=["joint", "conditional"],
            hyperparameters={},
            training={},
            repo_id="me/model",
        )
    )
    first_block = re.search(r"```python\n(.*?)```", card, flags=re.DOTALL).group(1)
    assert 'DiffusionPipeline.from_pretrained("me/model", trust_remote_code=True)' in first_block
    loading = "\n".join(line for line in first_block.splitlines() if not line.startswith(("out =", "generated =")))
    namespace = {}
    exec(loading.replace("me/model", str(tmp_path / "pipe")), namespace)
    assert type(namespace["pipe"]) is SymmFlowPipeline


def test_push_to_hub_uploads_the_pipeline_without_checkpoints(tmp_path, monkeypatch):
    import huggingface_hub

    calls = {}

    class FakeApi:
        def __init__(self, token=None):
            calls["token"] = token

        def create_repo(self, repo_id, private=False, exist_ok=False):
            calls["create_repo"] = (repo_id, private, exist_ok)
            return f"https://huggingface.co/{repo_id}"

        def upload_folder(self, **kwargs):
            calls["upload_folder"] = kwargs

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    url = training_utils.push_to_hub(str(tmp_path), "me/model", token="secret", private=True)
    assert url == "https://huggingface.co/me/model"
    assert calls["create_repo"] == ("me/model", True, True) and calls["token"] == "secret"
    assert calls["upload_folder"]["folder_path"] == str(tmp_path)
    assert "checkpoint-*" in calls["upload_folder"]["ignore_patterns"]
