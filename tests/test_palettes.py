"""Palettes and colour I/O (`diffusers_symmflow.palettes`): named, generated and user palettes, the colour lookup."""

import json

import numpy as np
import pytest
import torch

import diffusers_symmflow
from diffusers_symmflow import labels, palettes
from diffusers_symmflow.palettes import (
    CELEBAMASK_HQ_PALETTE,
    COCO_STUFF_PALETTE,
    COCO_STUFF_UNUSED_IDS,
    coco_stuff_id_map,
    generate_palette,
    min_pairwise_distance,
    resolve_palette,
    rgb_to_palette_indices,
)


@pytest.mark.parametrize(
    "name",
    ["CELEBAMASK_HQ_CLASSES", "CELEBAMASK_HQ_PALETTE", "COCO_STUFF_PALETTE", "COCO_STUFF_UNUSED_IDS",
     "coco_stuff_id_map", "generate_palette", "resolve_palette"],
)  # fmt: skip
def test_palette_names_are_the_same_objects_from_the_package_and_labels(name):
    """`palettes` owns them; the package root and (for older imports) `labels` hand out the very same objects."""
    assert getattr(diffusers_symmflow, name) is getattr(palettes, name)
    assert getattr(labels, name) is getattr(palettes, name)


def test_generated_palettes_are_distinct_deterministic_and_start_black():
    for count in (2, 11, 19, 172):
        palette = generate_palette(count)
        assert palette.shape == (count, 3) and palette.dtype == np.uint8
        assert len(np.unique(palette, axis=0)) == count
        assert tuple(palette[0]) == (0, 0, 0)
        np.testing.assert_array_equal(palette, generate_palette(count))
    # Better separated than the authors' 6x6x6 grid (step 50) for COCO-Stuff's 171 classes + unlabelled.
    assert min_pairwise_distance(generate_palette(172)) > 50.0


def test_resolve_palette_sources_and_errors(tmp_path):
    path = tmp_path / "palette.json"
    path.write_text(json.dumps([[0, 0, 0], [10, 20, 30], [255, 255, 255]]))
    np.testing.assert_array_equal(resolve_palette(str(path), 2), [[0, 0, 0], [10, 20, 30]])
    np.testing.assert_array_equal(resolve_palette("celebamask-hq", 19), CELEBAMASK_HQ_PALETTE)
    with pytest.raises(ValueError, match="distinct"):
        resolve_palette([[0, 0, 0], [0, 0, 0]], 2)
    with pytest.raises(ValueError, match="0..255"):
        resolve_palette([[0, 0, 0], [0, 0, 300]], 2)
    with pytest.raises(ValueError, match="3 colours but 4"):
        resolve_palette(str(path), 4)
    with pytest.raises(ValueError, match="Unknown palette"):
        resolve_palette("no-such-palette", 2)


def test_rgb_to_palette_indices_finds_rows_and_names_unknown_colours():
    palette = np.array([[0, 0, 0], [255, 0, 0], [0, 0, 7]], dtype=np.uint8)
    colours = torch.tensor([[[0, 0, 7], [255, 0, 0]], [[0, 0, 0], [0, 0, 7]]])
    torch.testing.assert_close(rgb_to_palette_indices(colours, palette), torch.tensor([[2, 1], [0, 2]]))
    with pytest.raises(ValueError, match=r"2 pixel\(s\) have colours not in the palette of 3 colours.*\(1, 2, 3\)"):
        rgb_to_palette_indices(torch.tensor([[1, 2, 3], [1, 2, 3], [0, 0, 0]]), palette)
    # Values outside 0..255 never alias onto a palette colour: (0, 0, 255 * 256**2) has red's integer key.
    with pytest.raises(ValueError, match="not in the palette"):
        rgb_to_palette_indices(torch.tensor([[0, 0, 255 * 256**2]]), palette)


def test_coco_stuff_id_map_and_palette_are_the_authors():
    table = coco_stuff_id_map()
    assert table.shape == (256,) and table[0] == 0 and table[10] == 10 and table[12] == 11 and table[181] == 170
    assert table[26] == 24 and table[30] == 26 and table[91] == 80 and table[255] == 255
    assert all(table[raw] == 255 for raw in COCO_STUFF_UNUSED_IDS)
    used = sorted(set(table[:182].tolist()) - {255})
    assert used == list(range(171))
    assert len(COCO_STUFF_PALETTE) == 172 and COCO_STUFF_PALETTE[1] == (0, 0, 50)
    assert COCO_STUFF_PALETTE[36] == (50, 0, 0) and COCO_STUFF_PALETTE[-1] == (250, 250, 250)
