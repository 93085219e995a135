# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""Palettes and colour I/O: which RGB colour stands for which class, and reading colour masks back as indices.

The named palettes of the datasets the paper uses (CelebAMask-HQ, COCO-Stuff, with COCO-Stuff's id remap), a
generator of well-separated palettes for any number of classes, the one resolver that turns every accepted palette
specification into a checked colour array, and the exact colour-to-row lookup. `LabelCodec` (labels.py) builds its
palette code, `colorize` and `rgb_to_labels` on these; nothing here knows about class ids beyond palette rows.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .inputs import check_positive_int


# ----------------------------------------------------------------------------------------------------------------
# Named palettes
# ----------------------------------------------------------------------------------------------------------------

CELEBAMASK_HQ_CLASSES: list[str] = [
    "background", "skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear", "r_ear",
    "mouth", "u_lip", "l_lip", "hair", "hat", "ear_r", "neck_l", "neck", "cloth",
]  # fmt: skip

CELEBAMASK_HQ_PALETTE: list[tuple[int, int, int]] = [
    (0, 0, 0), (204, 0, 0), (76, 153, 0), (204, 204, 0), (51, 51, 255), (204, 0, 204), (0, 255, 255),
    (255, 204, 204), (102, 51, 0), (255, 0, 0), (102, 204, 0), (255, 255, 0), (0, 0, 153), (0, 0, 204),
    (255, 51, 153), (0, 204, 204), (0, 51, 0), (255, 153, 51), (0, 204, 0),
]  # fmt: skip

COCO_STUFF_UNUSED_IDS: tuple[int, ...] = (11, 25, 28, 29, 44, 65, 67, 68, 70, 82, 90)
"""The 11 of COCO-Stuff's 182 raw ids (0-based, as in its `stuffthingmaps` PNGs) that no pixel carries: COCO thing
classes dropped before release (street sign, hat, shoe, eye glasses, plate, mirror, window, desk, door, blender, hair
brush). The other 171 are the paper's classes."""


def coco_stuff_id_map() -> np.ndarray:
    """Lookup table `[256]` (uint8) from COCO-Stuff's raw mask values to the 171 contiguous class ids.

    Raw ids 0..181 minus `COCO_STUFF_UNUSED_IDS` become 0..170 in order (the authors' remap); the unused ids and 255
    (unlabelled) become 255, to be used with `ignore_index=255`. Apply it as `coco_stuff_id_map()[raw_mask]`.
    """
    table = np.full(256, 255, dtype=np.uint8)
    used = [raw for raw in range(182) if raw not in COCO_STUFF_UNUSED_IDS]
    table[used] = np.arange(len(used), dtype=np.uint8)
    return table


def _coco_stuff_palette() -> list[tuple[int, int, int]]:
    # The authors' colours: a 6x6x6 grid with step 50 in (r, g, b) order, the first 171 for the classes and the
    # grid's last colour (250, 250, 250) for unlabelled pixels (the codec's extra colour with ignore_index=255).
    levels = range(0, 251, 50)
    grid = [(r, g, b) for r in levels for g in levels for b in levels]
    return grid[:171] + grid[-1:]


COCO_STUFF_PALETTE: list[tuple[int, int, int]] = _coco_stuff_palette()

NAMED_PALETTES: dict[str, list[tuple[int, int, int]] | None] = {
    "generated": None,
    "celebamask-hq": CELEBAMASK_HQ_PALETTE,
    "coco-stuff": COCO_STUFF_PALETTE,
}
"""The palette names `resolve_palette` accepts (case-insensitive); `"generated"` means `generate_palette`."""


# ----------------------------------------------------------------------------------------------------------------
# Generated palettes
# ----------------------------------------------------------------------------------------------------------------


def min_pairwise_distance(palette: np.ndarray | Sequence[Sequence[int]] | torch.Tensor) -> float:
    """Smallest Euclidean distance between two colours of a palette.

    Args:
        palette: Colours, shape `[N, 3]`, in 0-255 RGB units (any numeric dtype).

    Returns:
        The minimum pairwise distance in 0-255 RGB units; `inf` for a palette of fewer than two colours.
    """
    colours = np.asarray(palette, dtype=np.float64).reshape(-1, 3)
    if len(colours) < 2:
        return math.inf
    squared_norms = (colours**2).sum(axis=1)
    squared = squared_norms[:, None] - 2.0 * colours @ colours.T + squared_norms[None, :]
    np.fill_diagonal(squared, np.inf)
    return float(math.sqrt(max(squared.min(), 0.0)))


def _farthest_point_order(points: np.ndarray, num_points: int) -> np.ndarray:
    """Greedy farthest-point sampling of `num_points` rows of `points`, starting from row 0."""
    chosen = [0]
    squared = ((points - points[0]) ** 2).sum(axis=1)
    for _ in range(num_points - 1):
        # argmax returns the first maximum, which keeps the result deterministic under ties.
        index = int(squared.argmax())
        chosen.append(index)
        squared = np.minimum(squared, ((points - points[index]) ** 2).sum(axis=1))
    return points[chosen]


def _lattice_candidates(num_colors: int) -> np.ndarray:
    """Points of the axis-scaled lattice with the largest nearest-neighbour distance that fits `num_colors` colours.

    Two lattice families are searched, each stretched independently along R, G and B so that it spans the cube
    exactly: the simple cubic grid with `m_x x m_y x m_z` steps, and its face-centred-cubic sublattice (grid
    points whose index sum is even), which packs about sqrt(2) times more points at the same distance. The
    tetragonal stretch also covers the body-centred-cubic lattice. For each pair of step counts on the first
    two axes, the third takes the smallest count that yields enough points, since more steps only shrink the
    distance.
    """
    best_distance, best_lattice = -1.0, ("grid", 1, 1, 1)
    # The sorted step counts of a useful lattice satisfy m_x <= cbrt(2n) and m_y <= sqrt(2n) (up to rounding).
    max_first = round((2 * num_colors) ** (1 / 3)) + 2
    max_second = math.isqrt(2 * num_colors) + 2
    for steps_x in range(1, max_first + 1):
        for steps_y in range(steps_x, max_second + 1):
            for kind in ("grid", "fcc"):
                # The even sublattice keeps ceil(points / 2) points, hence 2n - 1.
                needed = num_colors if kind == "grid" else 2 * num_colors - 1
                steps_z = max(1, math.ceil(needed / ((steps_x + 1) * (steps_y + 1))) - 1)
                ax, ay, az = 255.0 / steps_x, 255.0 / steps_y, 255.0 / steps_z
                if kind == "grid":
                    distance = min(ax, ay, az)
                else:
                    distance = min(math.hypot(ax, ay), math.hypot(ax, az), math.hypot(ay, az), 2 * min(ax, ay, az))
                if distance > best_distance:
                    best_distance, best_lattice = distance, (kind, steps_x, steps_y, steps_z)

    kind, steps_x, steps_y, steps_z = best_lattice
    indices = np.stack(
        np.meshgrid(np.arange(steps_x + 1), np.arange(steps_y + 1), np.arange(steps_z + 1), indexing="ij"), axis=-1
    ).reshape(-1, 3)
    if kind == "fcc":
        indices = indices[indices.sum(axis=1) % 2 == 0]
    return np.floor(indices * (255.0 / np.array([steps_x, steps_y, steps_z])) + 0.5)


def _coarse_grid() -> np.ndarray:
    axis = np.floor(np.linspace(0.0, 255.0, 18) + 0.5)
    return np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)


def generate_palette(num_colors: int) -> np.ndarray:
    """Deterministic palette whose colours are as far apart as a lattice packing of the RGB cube allows.

    The colours are the points of the best axis-scaled simple-cubic or face-centred-cubic lattice spanning the
    0-255 RGB cube that holds `num_colors` points (chosen, when the lattice has more, by greedy farthest-point
    sampling from black); for the few small counts where greedy farthest-point sampling over an 18-step grid
    does better (2, 5 and 9 colours: 2 gives black and white) that is used instead. The first colour is always
    black (0, 0, 0).

    Measured minimum pairwise distances (0-255 RGB units): 59.4 for 172 colours (COCO-Stuff's 171 classes +
    unlabelled; the authors' 6x6x6 grid with step 50 gives 50.0), 50.9 for 256 colours, 127.0 for 19 colours.
    A 256-colour palette takes about 0.1 s on one CPU core.

    Args:
        num_colors: Number of colours, >= 1.

    Returns:
        `np.ndarray` of dtype uint8 and shape `[num_colors, 3]`, distinct RGB colours.
    """
    check_positive_int("num_colors", num_colors)
    num_colors = int(num_colors)

    palette = _farthest_point_order(_lattice_candidates(num_colors), num_colors)
    grid = _coarse_grid()
    if num_colors <= len(grid):
        greedy = _farthest_point_order(grid, num_colors)
        if min_pairwise_distance(greedy) > min_pairwise_distance(palette):
            palette = greedy
    return palette.astype(np.uint8)


def resolve_palette(palette: str | os.PathLike | Sequence | np.ndarray | None, num_colors: int) -> np.ndarray:
    """Turn any accepted palette specification into a validated colour array.

    Args:
        palette: One of
            - `None` or `"generated"`: `generate_palette(num_colors)`;
            - `"celebamask-hq"`: `CELEBAMASK_HQ_PALETTE` (19 colours);
            - `"coco-stuff"`: `COCO_STUFF_PALETTE` (171 class colours and the unlabelled colour, the authors');
            - a path to a JSON file holding a list of `[r, g, b]`;
            - a list or array of `[r, g, b]` colours, shape `[M, 3]`, integers in 0..255.
        num_colors: Number of colours needed; the first `num_colors` of a longer palette are used.

    Returns:
        `np.ndarray` of dtype uint8 and shape `[num_colors, 3]`.

    Raises:
        ValueError: for an unknown name or missing file, a wrong shape, non-integer values or values outside
            0..255, duplicate colours, or fewer than `num_colors` colours.
    """
    if palette is None:
        return generate_palette(num_colors)
    if isinstance(palette, (str, os.PathLike)):
        name = os.fspath(palette)
        if name.lower() in NAMED_PALETTES:
            named = NAMED_PALETTES[name.lower()]
            if named is None:
                return generate_palette(num_colors)
            colours: Any = named
        elif os.path.isfile(name):
            with open(name, encoding="utf-8") as file:
                colours = json.load(file)
        else:
            raise ValueError(
                f"Unknown palette {name!r}: expected None, one of {sorted(NAMED_PALETTES)}, a path to an existing "
                "JSON file holding a list of [r, g, b], or a list of [r, g, b]."
            )
    else:
        colours = palette

    try:
        array = np.asarray(colours, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"A palette must be a list of [r, g, b] colours; could not read it: {error}") from None
    if array.ndim != 2 or array.shape[1] != 3:
        raise ValueError(f"A palette must have shape [num_colors, 3], got shape {list(array.shape)}.")
    if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
        raise ValueError("Palette colours must be integers in 0..255.")
    if array.min() < 0 or array.max() > 255:
        raise ValueError(
            f"Palette colours must lie in 0..255, got values from {int(array.min())} to {int(array.max())}."
        )
    unique, counts = np.unique(array, axis=0, return_counts=True)
    if len(unique) != len(array):
        duplicates = [tuple(int(v) for v in colour) for colour in unique[counts > 1][:5]]
        raise ValueError(f"A palette must have distinct colours; duplicated: {duplicates}.")
    if len(array) < num_colors:
        raise ValueError(f"The palette has {len(array)} colours but {num_colors} are needed.")
    return array[:num_colors].astype(np.uint8)


# ----------------------------------------------------------------------------------------------------------------
# Colour I/O
# ----------------------------------------------------------------------------------------------------------------


def rgb_to_palette_indices(colours: torch.Tensor, palette: np.ndarray) -> torch.Tensor:
    """Row of `palette` that each RGB colour equals (exact matches only).

    Args:
        colours (`torch.Tensor`): integer RGB values, shape `[..., 3]` (any leading shape), any integer dtype.
        palette (`np.ndarray`): distinct colours, `[M, 3]`, as returned by `resolve_palette`.

    Returns:
        `torch.Tensor`, int64, shape `colours.shape[:-1]`, values in [0, M), on `colours`' device.

    Raises:
        ValueError: if a colour is not in the palette, naming how many pixels and the first 5 such colours.
    """
    values = colours.long()

    # Each colour becomes one integer key, so matching is a sorted lookup rather than a per-colour loop.
    def keys_of(rgb: torch.Tensor) -> torch.Tensor:
        return (rgb[..., 0] * 256 + rgb[..., 1]) * 256 + rgb[..., 2]

    table = torch.as_tensor(np.asarray(palette).astype(np.int64), device=values.device)
    palette_keys, order = keys_of(table).sort()
    in_range = ((values >= 0) & (values <= 255)).all(dim=-1)
    keys = torch.where(in_range, keys_of(values), torch.full_like(in_range, -1, dtype=torch.long))
    position = torch.searchsorted(palette_keys, keys).clamp(max=len(palette_keys) - 1)
    matched = palette_keys[position] == keys
    if not bool(matched.all()):
        unknown = torch.unique(values[~matched], dim=0)[:5]
        shown = [tuple(int(v) for v in colour) for colour in unknown.tolist()]
        raise ValueError(
            f"{int((~matched).sum())} pixel(s) have colours not in the palette of {len(table)} colours; "
            f"first colours: {shown}."
        )
    return order[position]
