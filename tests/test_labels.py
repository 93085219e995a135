"""Label codecs: encodings, decoding with scores, ignore codes, colour masks, dequantization, config."""

import ast
import json
import pathlib

import numpy as np
import pytest
import torch

from diffusers_symmflow.labels import LABEL_ENCODINGS, LabelCodec, dequantize


ALL_CODECS = [(task, encoding) for task, encodings in LABEL_ENCODINGS.items() for encoding in encodings]


def _labels_for(task: str, num_classes: int, generator: torch.Generator) -> torch.Tensor:
    shape = (5,) if task == "classification" else (2, 6, 7)
    return torch.randint(0, num_classes, shape, generator=generator)


@pytest.mark.parametrize("task,encoding", ALL_CODECS)
def test_encode_decode_round_trip_and_range(task, encoding):
    codec = LabelCodec(task=task, encoding=encoding, num_classes=7)
    labels = _labels_for(task, 7, torch.Generator().manual_seed(0))
    code = codec.encode(labels)
    assert code.dtype == torch.float32 and code.shape[1] == codec.num_channels
    assert code.min() >= -1.0 and code.max() <= 1.0
    decoded = codec.decode(code)
    torch.testing.assert_close(decoded.labels, labels)
    assert decoded.scores.shape[1] == 7
    torch.testing.assert_close(decoded.scores.sum(dim=1), torch.ones_like(decoded.scores[:, 0]))
    np.testing.assert_array_equal(decoded.scores.argmax(dim=1).numpy(), labels.numpy())


def test_scalar_code_values_follow_the_paper():
    codec = LabelCodec(task="classification", encoding="scalar", num_classes=5)
    torch.testing.assert_close(codec.encode([0, 1, 2, 3, 4])[:, 0], torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0]))
    maps = codec.encode([4], spatial_size=(3, 2))
    assert maps.shape == (1, 1, 3, 2) and torch.all(maps == 1.0)


def test_posterior_mean_of_ambiguous_image_scalar_vs_onehot():
    """Why one-hot is the default: the mean of classes 0 and 6 is class 3 for the scalar code, not for one-hot."""
    scalar = LabelCodec(task="classification", encoding="scalar", num_classes=10)
    onehot = LabelCodec(task="classification", encoding="onehot", num_classes=10)
    for codec, expected in ((scalar, {3}), (onehot, {0, 6})):
        mean_code = codec.encode([0, 6]).mean(dim=0, keepdim=True)
        decoded = codec.decode(mean_code)
        assert int(decoded.labels) in expected
    scores = onehot.decode(onehot.encode([0, 6]).mean(dim=0, keepdim=True)).scores[0]
    torch.testing.assert_close(scores[[0, 6]], torch.tensor([0.5, 0.5]))
    assert float(scores.sum() - scores[[0, 6]].sum()) == pytest.approx(0.0, abs=1e-6)


def test_onehot_scores_agree_with_argmax_when_all_channels_are_below_minus_one():
    codec = LabelCodec(task="classification", encoding="onehot", num_classes=3)
    decoded = codec.decode(torch.tensor([[-1.5, -1.2, -3.0]]))
    assert int(decoded.labels) == 1 and int(decoded.scores.argmax()) == 1


def test_classification_decodes_the_spatial_mean():
    codec = LabelCodec(task="classification", encoding="onehot", num_classes=4)
    code = codec.encode([2], spatial_size=(4, 4))
    code[:, :, :1] = codec.encode([1])[:, :, None, None]  # a quarter of the map votes for class 1
    decoded = codec.decode(code)
    assert int(decoded.labels) == 2
    torch.testing.assert_close(decoded.scores[0, [1, 2]], torch.tensor([0.25, 0.75]))


@pytest.mark.parametrize("encoding", ["onehot", "palette"])
def test_ignore_index_outside_range_has_its_own_code(encoding):
    codec = LabelCodec(task="segmentation", encoding=encoding, num_classes=3, ignore_index=255)
    assert codec.num_codes == 4 and codec.palette_array.shape == (4, 3)
    assert codec.num_channels == (4 if encoding == "onehot" else 3)
    mask = torch.tensor([[[0, 1, 255], [2, 255, 0]]])
    decoded = codec.decode(codec.encode(mask))
    torch.testing.assert_close(decoded.labels, mask)
    assert decoded.scores.shape == (1, 3, 2, 3)
    colours = codec.colorize(mask)
    torch.testing.assert_close(codec.rgb_to_labels(colours), mask)


def test_ignore_index_inside_range_is_an_ordinary_class():
    codec = LabelCodec(task="segmentation", encoding="onehot", num_classes=3, ignore_index=0)
    assert codec.num_codes == 3 and codec.num_channels == 3


def test_bad_labels_raise_clear_errors():
    codec = LabelCodec(task="segmentation", encoding="onehot", num_classes=3)
    with pytest.raises(ValueError, match=r"outside \[0, 3\).*\[3, 7\]"):
        codec.encode(torch.tensor([[0, 3], [7, 1]]))
    with pytest.raises(ValueError, match="integer class ids"):
        codec.encode(np.array([[0.5, 1.0]]))
    classifier = LabelCodec(task="classification", encoding="scalar", num_classes=3, ignore_index=255)
    with pytest.raises(ValueError, match="ignore_index=255 has no code"):
        classifier.encode([255])
    with pytest.raises(ValueError, match="Unknown encoding 'palette' for task 'classification'"):
        LabelCodec(task="classification", encoding="palette", num_classes=3)
    with pytest.raises(ValueError, match="num_classes"):
        LabelCodec(task="classification", num_classes=1)
    with pytest.raises(ValueError, match="C=3 channels"):
        codec.decode(torch.zeros(1, 2, 4, 4))


def test_rgb_to_labels_names_colours_not_in_the_palette():
    codec = LabelCodec(task="segmentation", encoding="palette", num_classes=2, palette=[[0, 0, 0], [255, 0, 0]])
    rgb = np.zeros((2, 2, 3), dtype=np.uint8)
    rgb[0, 0] = (255, 0, 0)
    torch.testing.assert_close(codec.rgb_to_labels(rgb), torch.tensor([[[1, 0], [0, 0]]]))
    rgb[1, 1] = (1, 2, 3)
    with pytest.raises(ValueError, match=r"1 pixel\(s\) have colours not in the palette.*\(1, 2, 3\)"):
        codec.rgb_to_labels(rgb)


def test_palette_decoding_snaps_to_the_nearest_colour():
    codec = LabelCodec(task="segmentation", encoding="palette", num_classes=19, palette="celebamask-hq")
    mask = torch.arange(19).reshape(1, 1, 19)
    noisy = dequantize(codec.encode(mask), beta=10.0, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(codec.decode(noisy).labels, mask)


def test_codec_config_stores_colours_not_paths(tmp_path):
    """The pipeline saves the codec's config; it must not depend on the palette file after construction."""
    path = tmp_path / "palette.json"
    path.write_text(json.dumps([[0, 0, 0], [10, 20, 30], [200, 0, 0]]))
    codec = LabelCodec(
        task="segmentation", encoding="palette", num_classes=3, palette=str(path), class_names=list("abc")
    )
    path.unlink()
    assert codec.config.palette == [[0, 0, 0], [10, 20, 30], [200, 0, 0]]
    rebuilt = LabelCodec(**codec.config)
    np.testing.assert_array_equal(rebuilt.palette_array, codec.palette_array)
    assert rebuilt.config.class_names == ["a", "b", "c"]


def test_dequantize_width_units_and_determinism():
    code = torch.zeros(20000)
    noisy = dequantize(code, beta=4.0, generator=torch.Generator().manual_seed(0))
    half_width = 4.0 / 2 / 127.5
    assert noisy.abs().max() <= half_width
    assert noisy.max() > 0.9 * half_width and noisy.min() < -0.9 * half_width
    again = dequantize(code, beta=4.0, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(noisy, again)
    torch.testing.assert_close(dequantize(code, beta=0.0), code)
    with pytest.raises(ValueError, match="beta"):
        dequantize(code, beta=-1.0)


def test_codec_owns_the_ignore_code():
    """One rule: an ignore_index outside [0, K) has a code of its own, in segmentation only."""
    outside = LabelCodec(task="segmentation", num_classes=2, ignore_index=255)
    assert outside.has_ignore_code and outside.num_codes == 3
    assert not LabelCodec(task="segmentation", num_classes=2, ignore_index=0).has_ignore_code
    assert not LabelCodec(task="classification", num_classes=2, ignore_index=255).has_ignore_code


def test_the_codec_does_not_import_the_evaluation():
    # The codec is the bottom of the stack: evaluation (which imports the pipeline) calls down into it, never up,
    # not even from inside a method.
    source = (pathlib.Path(__file__).resolve().parents[1] / "src" / "diffusers_symmflow" / "labels.py").read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
    assert imported and not [name for name in imported if "evaluation" in name or "pipelines" in name]


def test_scalar_code_is_the_authors_for_k10_beta4():
    """The authors' code: class k at (beta/2) (2k/(K-1) - 1), noise of total width (beta/2)/(K-1), decode / (beta/2)."""
    codec = LabelCodec(task="classification", encoding="scalar", num_classes=10, beta=4.0)
    code = codec.encode(list(range(10)), spatial_size=(4, 4))
    assert codec.scalar_amplitude == 2.0
    torch.testing.assert_close(code[:, 0, 0, 0], 2.0 * (torch.arange(10) * 2.0 / 9.0 - 1.0))
    assert float(code[0].max()) == -2.0 and float(code[9].min()) == 2.0
    noisy = codec.dequantize(code, beta=4.0, generator=torch.Generator().manual_seed(0))
    noise = noisy - code
    half_width = (4.0 / 2.0) / 9.0 / 2.0  # 0.111
    assert float(noise.abs().max()) <= half_width + 1e-6 and float(noise.abs().max()) > 0.9 * half_width
    # Every class decodes back, with and without its dequantization noise (half a class spacing at most).
    torch.testing.assert_close(codec.decode(code).labels, torch.arange(10))
    torch.testing.assert_close(codec.decode(noisy).labels, torch.arange(10))
    assert codec.dequantize(code, beta=0.0).equal(code)
    # Per pixel too: worst-case noise on each pixel still rounds to the right class.
    edges = code + torch.where(torch.arange(10)[:, None, None, None] % 2 == 0, 1.0, -1.0) * 0.999 * half_width
    torch.testing.assert_close(codec.decode(edges).labels, torch.arange(10))


def test_scalar_beta_sets_the_amplitude():
    codec = LabelCodec(task="classification", encoding="scalar", num_classes=4, beta=10.0)
    loaded = LabelCodec(**codec.config)
    assert codec.scalar_amplitude == 5.0 and loaded.scalar_amplitude == 5.0
    torch.testing.assert_close(loaded.encode([0, 3]), codec.encode([0, 3]))
    with pytest.raises(ValueError, match="beta"):
        LabelCodec(task="classification", encoding="scalar", num_classes=4, beta=0.0)


def test_other_encodings_keep_the_8bit_dequantization():
    codec = LabelCodec(task="segmentation", encoding="onehot", num_classes=3, beta=4.0)
    code = codec.encode(torch.zeros(1, 4, 4, dtype=torch.long))
    torch.testing.assert_close(
        codec.dequantize(code, 4.0, generator=torch.Generator().manual_seed(1)),
        dequantize(code, 4.0, generator=torch.Generator().manual_seed(1)),
    )


def test_coco_stuff_palette_gives_unlabelled_pixels_the_extra_colour():
    # 171 classes with ignore_index 255: unlabelled pixels take the extra colour and decode back to 255.
    codec = LabelCodec(
        task="segmentation", encoding="palette", num_classes=171, palette="coco-stuff", ignore_index=255
    )
    mask = torch.tensor([[[0, 170, 255]]])
    code = codec.encode(mask)
    torch.testing.assert_close((code[0, :, 0, 2] + 1) * 127.5, torch.tensor([250.0, 250.0, 250.0]))
    torch.testing.assert_close(codec.decode(code).labels, mask)


def test_onehot_segmentation_ties_decode_to_the_lowest_class():
    codec = LabelCodec(task="segmentation", encoding="onehot", num_classes=4)
    code = -torch.ones(2, 4, 3, 5)
    code[:, 1] = 1.0
    code[:, 3] = 1.0  # tied with class 1 everywhere
    code[1, 2, 0, 0] = 2.0
    labels = codec.decode(code).labels
    expected = torch.ones(2, 3, 5, dtype=torch.long)
    expected[1, 0, 0] = 2
    assert torch.equal(labels, expected)


def test_onehot_scores_fall_back_to_a_softmax_only_where_every_channel_is_at_or_below_minus_one():
    codec = LabelCodec(task="segmentation", encoding="onehot", num_classes=3)
    code = -torch.ones(1, 3, 1, 2)
    code[0, :, 0, 0] = torch.tensor([-1.5, -1.2, -2.0])  # no channel above -1: the softmax of the means
    code[0, :, 0, 1] = torch.tensor([0.0, 1.0, -1.0])  # p = (m + 1) / 2 normalised: [1/3, 2/3, 0]
    scores = codec.decode(code).scores[0, :, 0]
    torch.testing.assert_close(scores[:, 0], torch.softmax(torch.tensor([-1.5, -1.2, -2.0]), dim=0))
    torch.testing.assert_close(scores[:, 1], torch.tensor([1 / 3, 2 / 3, 0.0]))
    assert codec.decode(code).labels[0, 0].tolist() == [1, 1]
