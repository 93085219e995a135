"""Every paper recipe in examples/recipes/ starts: its own flags, with only the data, the model size and the step
count swapped for tiny stand-ins (in-process, CPU, no network), so no recipe can rot."""

import os
import shlex

import numpy as np
import PIL.Image
import pytest
import torch
from testing_utils import load_example, make_tiny_sd_unet, make_tiny_vae

from diffusers_symmflow.palettes import CELEBAMASK_HQ_PALETTE, COCO_STUFF_UNUSED_IDS
from diffusers_symmflow.pipelines import SymmFlowPipeline


ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
RECIPES = os.path.join(ROOT, "examples", "recipes")
# Flags the stand-ins replace (data, model size, steps) or add (quiet, small validation); all others stay as written.
SMALL = [
    "--max_train_steps",
    "3",
    "--report_to",
    "none",
    "--max_eval_samples",
    "4",
    "--eval_batch_size",
    "4",
    "--num_validation_images",
    "2",
    "--validation_inference_steps",
    "2",
]


pytestmark = pytest.mark.usefixtures("fresh_accelerate_state")


def recipe_flags(name: str) -> list[str]:
    """The training-script flags of the recipe's one `accelerate launch ... train_symmflow.py` command."""
    with open(os.path.join(RECIPES, name), encoding="utf-8") as file:
        text = file.read().replace("\\\n", " ")
    commands = [line for line in text.splitlines() if line.strip().startswith("accelerate launch")]
    assert len(commands) == 1, commands
    words = shlex.split(commands[0])
    flags = words[words.index("examples/train_symmflow.py") + 1 :]
    assert flags[-1] == "$@"
    return flags[:-1]


def swap(flags: list[str], **values: str) -> list[str]:
    """`flags` with the values of the named flags replaced (each must be in the recipe)."""
    flags = list(flags)
    for name, value in values.items():
        index = flags.index(f"--{name}")
        flags[index + 1] = value
    return flags


def flag(flags: list[str], name: str) -> str:
    return flags[flags.index(f"--{name}") + 1]


def write_stable_diffusion(root, make_tiny_vae) -> tuple[str, str]:
    make_tiny_sd_unet(seed=0).save_pretrained(root / "sd" / "unet")
    make_tiny_vae(seed=0).save_pretrained(root / "sd" / "vae")
    make_tiny_vae(seed=1).save_pretrained(root / "vae")
    return str(root / "sd"), str(root / "vae")


def classification_parquet(path, column: str, channels: int, size: int) -> None:
    import datasets

    rng = np.random.default_rng(0)
    shape = (size, size) if channels == 1 else (size, size, 3)
    images = [PIL.Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)) for _ in range(12)]
    datasets.Dataset.from_dict({column: images, "label": [i % 10 for i in range(12)]}).to_parquet(str(path))


@pytest.mark.parametrize("recipe,column,channels,size", [("mnist.sh", "image", 1, 28), ("cifar10.sh", "img", 3, 32)])
def test_classification_recipe_starts(train, tmp_path, recipe, column, channels, size):
    flags = recipe_flags(recipe)
    # The paper's settings through --preset paper: the authors' scalar code, diagonal time, no decay, no clipping,
    # a constant EMA, their LR schedule.
    args = train.parse_args(flags)
    assert (args.preset, args.label_encoding, args.label_time, args.label_prediction) == (
        "paper",
        "scalar",
        "diagonal",
        "velocity",
    )
    assert (args.adam_weight_decay, args.max_grad_norm, args.use_ema, args.ema_constant_decay) == (
        0.0,
        0.0,
        True,
        True,
    )
    assert (args.lr_scheduler, args.image_loss_weight, args.ema_decay) == ("one_cycle", 0.9, 0.999)
    classification_parquet(tmp_path / "train.parquet", column, channels, size)
    flags = swap(
        flags,
        dataset_name=str(tmp_path / "train.parquet"),
        unet_config="tiny",
        train_batch_size="4",
        output_dir=str(tmp_path / "out"),
    )
    result = train.main([*flags, *SMALL, "--validation_split", "4"])
    assert result["global_step"] == 3 and set(result["metrics"]) == {"accuracy"}
    pipe = SymmFlowPipeline.from_pretrained(str(tmp_path / "out"))
    assert pipe.config.label_encoding == "scalar" and pipe.label_codec.scalar_amplitude == 2.0
    assert pipe.unet.config.sample_size == 32


def test_mnist_preset_rejects_28x28_with_the_fix(train, tmp_path):
    classification_parquet(tmp_path / "train.parquet", "image", 1, 28)
    flags = swap(
        recipe_flags("mnist.sh"),
        dataset_name=str(tmp_path / "train.parquet"),
        resolution="28",
        output_dir=str(tmp_path / "o"),
    )
    with pytest.raises(ValueError, match="multiple of 8.*--resolution 32"):
        train.main([*flags, *SMALL, "--validation_split", "4"])


def celebamask_parquet(path) -> None:
    import datasets

    rng = np.random.default_rng(0)
    palette = np.asarray(CELEBAMASK_HQ_PALETTE, dtype=np.uint8)
    ids = [rng.integers(0, 19, (16, 16)) for _ in range(10)]
    images = [PIL.Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)) for _ in ids]
    datasets.Dataset.from_dict(
        {"image": images, "mask": [PIL.Image.fromarray(palette[mask]) for mask in ids]}
    ).to_parquet(str(path))


def coco_stuff_dataset(root) -> str:
    """Raw COCO-Stuff-style folders (JPEG images, PNG masks of raw ids), prepared by the recipe's own script."""
    prepare = load_example(os.path.join("recipes", "prepare_coco_stuff.py"))
    rng = np.random.default_rng(0)
    (root / "images").mkdir()
    (root / "masks").mkdir()
    raw_ids = np.array([0, 12, 181, 255, 100, COCO_STUFF_UNUSED_IDS[0]], dtype=np.uint8)
    for index in range(10):
        PIL.Image.fromarray(rng.integers(0, 256, (16, 20, 3), dtype=np.uint8)).save(root / "images" / f"{index}.jpg")
        PIL.Image.fromarray(raw_ids[rng.integers(0, len(raw_ids), (16, 20))]).save(root / "masks" / f"{index}.png")
    dataset = prepare.build(str(root / "images"), str(root / "masks"))
    remapped = set(np.unique(np.concatenate([np.asarray(m).ravel() for m in dataset["mask"]])).tolist())
    assert remapped <= {0, 11, 170, 255, 89} and 255 in remapped
    dataset.save_to_disk(str(root / "coco-stuff-171"))
    return str(root / "coco-stuff-171")


@pytest.mark.parametrize("recipe", ["celebamask_hq.sh", "coco_stuff.sh"])
def test_segmentation_recipe_starts(train, tmp_path, recipe):

    flags = recipe_flags(recipe)
    assert (
        flag(flags, "conv_in_init") == "duplicate" and flag(flags, "vae_name_or_path") == "stabilityai/sd-vae-ft-mse"
    )
    # The authors' loader batch: 32 per process (2 GPUs for CelebAMask-HQ, 4 for COCO-Stuff).
    assert flag(flags, "train_batch_size") == "32"
    args = train.parse_args(flags)
    assert (args.label_time, args.adam_weight_decay, args.max_grad_norm, args.image_loss_weight) == (
        "diagonal",
        0.0,
        0.0,
        0.7,
    )
    assert (args.use_ema, args.ema_decay, args.ema_constant_decay, args.lr_scheduler) == (True, 0.9, True, "one_cycle")
    stable_diffusion, vae = write_stable_diffusion(tmp_path, make_tiny_vae)
    if recipe == "celebamask_hq.sh":
        celebamask_parquet(tmp_path / "train.parquet")
        data = str(tmp_path / "train.parquet")
    else:
        data = coco_stuff_dataset(tmp_path)
    flags = swap(
        flags,
        dataset_name=data,
        pretrained_model_name_or_path=stable_diffusion,
        vae_name_or_path=vae,
        resolution="16",
        train_batch_size="2",
        output_dir=str(tmp_path / "out"),
    )
    result = train.main([*flags, *SMALL, "--validation_split", "4"])
    assert result["global_step"] == 3 and "mean_iou" in result["metrics"]
    pipe = SymmFlowPipeline.from_pretrained(str(tmp_path / "out"))
    # The separate VAE was used, not the repo's: its weights are the seed-1 ones.
    expected = make_tiny_vae(seed=1).state_dict()
    for key, value in pipe.vae.state_dict().items():
        torch.testing.assert_close(value, expected[key])
    if recipe == "coco_stuff.sh":
        assert pipe.config.num_classes == 171 and pipe.config.palette[-1] == [250, 250, 250]
