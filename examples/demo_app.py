# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""A Gradio demo of a saved SymmFlow pipeline: segment, generate and edit, offline on a CPU.

    pip install -e ".[demo]" && python examples/demo_app.py --pipeline symmflow-mnist

Three tabs, one model:

* Segment: an image in; its mask in the model's palette, and with several label-noise samples the per-pixel
  uncertainty (entropy of the votes).
* Generate: draw a mask with the class palette (or upload a palette-coloured mask) and generate an image from it;
  picking a class paints every drawn (non-background) pixel with that class. Classification models generate from
  the picked class.
* Edit: upload an image, get its mask ("Auto-mask"), paint on the mask, and regenerate: `pipe.edit` inverts the image
  with its mask and regenerates it with the painted one.

Segmentation pipelines only for Segment and Edit; the app serves on 127.0.0.1 unless told otherwise.
"""

import argparse
import functools

import numpy as np
import PIL.Image
import torch

import diffusers_symmflow  # noqa: F401  (registers the component classes the pipeline loader looks up)
from diffusers_symmflow.pipelines import SymmFlowPipeline
from diffusers_symmflow.training.model_card import escape_markdown


DISPLAY_SIZE = 256  # MNIST is 32x32: shown and drawn at 8x, scaled back to the model's size
AS_DRAWN = "as drawn"


# ----------------------------------------------------------------------------------------------------------------
# Conversions between what the browser shows and what the pipeline takes
# ----------------------------------------------------------------------------------------------------------------


def model_size(pipe: SymmFlowPipeline) -> tuple[int, int]:
    """The pixel size `(H, W)` the pipeline's model was trained on."""
    size = pipe.unet.config.sample_size
    height, width = (size, size) if isinstance(size, int) else size
    return height * pipe.vae_scale_factor, width * pipe.vae_scale_factor


def background_id(pipe: SymmFlowPipeline) -> int:
    """The class unpainted pixels take: the model's `background_class`, else class 0."""
    background = pipe.config.get("background_class")
    return 0 if background is None else background


def to_display(image: np.ndarray | PIL.Image.Image) -> PIL.Image.Image:
    """Scale up a small image (uint8 `[H, W]` / `[H, W, 3]` or PIL) to `DISPLAY_SIZE` without blurring it."""
    image = image if isinstance(image, PIL.Image.Image) else PIL.Image.fromarray(np.asarray(image))
    scale = max(1, DISPLAY_SIZE // max(image.size))
    return image.resize((image.size[0] * scale, image.size[1] * scale), PIL.Image.NEAREST)


def to_model_image(pipe: SymmFlowPipeline, image) -> PIL.Image.Image:
    """A user's image (PIL or uint8 array) in the model's mode and size."""
    image = image if isinstance(image, PIL.Image.Image) else PIL.Image.fromarray(np.asarray(image))
    mode = "L" if pipe.num_pixel_channels == 1 else "RGB"
    height, width = model_size(pipe)
    return image.convert(mode).resize((width, height), PIL.Image.BILINEAR)


def colors_to_mask(pipe: SymmFlowPipeline, rgba: np.ndarray) -> np.ndarray:
    """Class ids `[H, W]` at the model's size from a drawn or uploaded mask (uint8 RGBA or RGB `[h, w, C]`).

    Each pixel takes the nearest palette colour (brushes and image scaling blend colours); transparent pixels are
    background. Scaling down pools the classes per cell and halves the background's weight, so a stroke drawn across
    a third of a cell still marks it (thin strokes would vanish otherwise).
    """
    rgba = np.asarray(rgba)
    if rgba.ndim == 2:
        rgba = np.repeat(rgba[..., None], 3, axis=-1)
    palette = np.asarray(pipe.config.palette, dtype=np.float32)[: pipe.config.num_classes]
    distances = ((rgba[..., None, :3].astype(np.float32) - palette) ** 2).sum(axis=-1)
    ids = distances.argmin(axis=-1)
    background = background_id(pipe)
    if rgba.shape[-1] == 4:
        ids = np.where(rgba[..., 3] < 128, background, ids)
    one_hot = torch.nn.functional.one_hot(torch.from_numpy(ids), pipe.config.num_classes).permute(2, 0, 1).float()
    shares = torch.nn.functional.adaptive_avg_pool2d(one_hot[None], model_size(pipe))[0]
    shares[background] *= 0.5
    return shares.argmax(dim=0).numpy()


def colorize(pipe: SymmFlowPipeline, mask: np.ndarray) -> np.ndarray:
    """uint8 `[H, W, 3]` palette colours of class ids `[H, W]`."""
    return np.asarray(pipe.config.palette, dtype=np.uint8)[mask]


def heat_map(values: np.ndarray, vmax: float) -> np.ndarray:
    """uint8 `[H, W, 3]` of `values` `[H, W]` in [0, vmax] through matplotlib's "magma" colour map."""
    from matplotlib import colormaps

    return (colormaps["magma"](np.clip(values / max(vmax, 1e-8), 0, 1))[..., :3] * 255).astype(np.uint8)


def editor_value(image: np.ndarray) -> dict:
    """An `ImageEditor` value whose background is `image` (uint8 `[H, W, 3]`), scaled for display."""
    shown = np.asarray(to_display(image).convert("RGBA"))
    return {"background": shown, "layers": [], "composite": shown}


def editor_composite(value) -> np.ndarray | None:
    """The flattened picture of an `ImageEditor` value (a dict from the browser, or an image), or `None` if empty."""
    if value is None:
        return None
    if isinstance(value, dict):
        composite = value.get("composite")
        if composite is None:
            composite = value.get("background")
        value = composite
    if value is None:
        return None
    return np.asarray(value.convert("RGBA") if isinstance(value, PIL.Image.Image) else value)


def blank_mask(pipe: SymmFlowPipeline) -> np.ndarray:
    """A canvas painted with the background class, at the model's size."""
    return colorize(pipe, np.full(model_size(pipe), background_id(pipe)))


def class_choices(pipe: SymmFlowPipeline) -> list[str]:
    names = pipe.config.class_names or [str(i) for i in range(pipe.config.num_classes)]
    return [f"{i}: {name}" for i, name in enumerate(names)]


# ----------------------------------------------------------------------------------------------------------------
# The three actions (plain functions: the app and its tests call the same code)
# ----------------------------------------------------------------------------------------------------------------


def segment(pipe, image, steps: int, samples: int, seed: int):
    """Returns (coloured mask, uncertainty map, a one-line summary); images scaled for display."""
    if image is None:
        raise ValueError("Upload an image to segment.")
    generator = torch.Generator().manual_seed(int(seed))
    out = pipe.segment(
        to_model_image(pipe, image), num_inference_steps=int(steps), num_samples=int(samples), generator=generator
    )
    mask = out.masks[0]
    if out.uncertainty is not None:
        uncertainty = heat_map(out.uncertainty[0], np.log(min(int(samples), pipe.config.num_classes)))
        disagree = float((out.uncertainty[0] > 0).mean())
        note = f"{int(samples)} samples disagree on {disagree:.0%} of the pixels"
    else:
        uncertainty = heat_map(np.zeros(mask.shape), 1.0)
        note = "one sample: no uncertainty (use more samples)"
    background = pipe.config.get("background_class")
    names = class_choices(pipe)
    objects = mask[mask != background] if background is not None else mask.reshape(-1)
    if objects.size:
        counts = np.bincount(objects, minlength=pipe.config.num_classes)
        note = f"mostly {names[int(counts.argmax())]} ({counts.max() / objects.size:.0%} of the object pixels); {note}"
    return to_display(colorize(pipe, mask)), to_display(uncertainty), note


def generate(pipe, mask_value, class_choice: str, steps: int, seed: int):
    """Returns the generated image (scaled for display) from a drawn mask or a picked class."""
    generator = torch.Generator().manual_seed(int(seed))
    picked = None if class_choice in (None, "", AS_DRAWN) else int(str(class_choice).split(":")[0])
    if pipe.config.task == "classification":
        if picked is None:
            raise ValueError("Pick a class to generate.")
        image = pipe(class_labels=[picked], num_inference_steps=int(steps), generator=generator).images[0]
        return to_display(image)
    drawn = editor_composite(mask_value)
    if drawn is None:
        raise ValueError("Draw or upload a mask.")
    mask = colors_to_mask(pipe, drawn)
    if picked is not None:
        mask = np.where(mask != background_id(pipe), picked, mask)
    image = pipe(mask=mask, num_inference_steps=int(steps), generator=generator).images[0]
    return to_display(image)


def auto_mask(pipe, image, seed: int):
    """Returns (an `ImageEditor` value showing the predicted mask, the mask's class ids)."""
    if image is None:
        raise ValueError("Upload an image first.")
    out = pipe.segment(to_model_image(pipe, image), generator=torch.Generator().manual_seed(int(seed)))
    mask = out.masks[0]
    return editor_value(colorize(pipe, mask)), mask.tolist()


def edit(pipe, image, mask_value, source_mask, strength: float, steps: int, seed: int):
    """Returns the edited image (scaled for display): `image` inverted with `source_mask`, regenerated with the
    painted mask. Without a source mask (no Auto-mask yet), the pipeline segments the image itself."""
    if image is None:
        raise ValueError("Upload an image first.")
    drawn = editor_composite(mask_value)
    if drawn is None:
        raise ValueError("Press Auto-mask (or upload a mask), then paint on it.")
    new_mask = colors_to_mask(pipe, drawn)
    source = None if source_mask is None else np.asarray(source_mask, dtype=np.int64)
    out = pipe.edit(
        to_model_image(pipe, image),
        new_mask,
        source_mask=source,
        strength=float(strength),
        num_inference_steps=int(steps),
        generator=torch.Generator().manual_seed(int(seed)),
    )
    return to_display(out.images[0])


# ----------------------------------------------------------------------------------------------------------------
# The app
# ----------------------------------------------------------------------------------------------------------------


def build_demo(pipe: SymmFlowPipeline, title: str = "SymmFlow"):
    """The Gradio `Blocks` app for `pipe`; its endpoints are `/segment`, `/generate`, `/auto_mask` and `/edit`."""
    import gradio as gr

    pipe.set_progress_bar_config(disable=True)
    palette = ["#{:02x}{:02x}{:02x}".format(*colour) for colour in pipe.config.palette[: pipe.config.num_classes]]
    segmentation = pipe.config.task == "segmentation"
    conditional = pipe.supports_conditional_sampling
    generation_steps, prediction_steps = pipe.config.default_generation_steps, pipe.config.default_prediction_steps
    # Class names and the title come from the saved config and the command line: shown as text, never as markup.
    legend = ", ".join(
        f"<span style='color:{colour}'>&#9632;</span> {escape_markdown(name)}"
        for colour, name in zip(palette, class_choices(pipe))
    )

    def mask_editor(label, value=None):
        return gr.ImageEditor(
            value=value,
            label=label,
            type="numpy",
            image_mode="RGBA",
            format="png",
            height=DISPLAY_SIZE + 120,
            canvas_size=(DISPLAY_SIZE, DISPLAY_SIZE),
            brush=gr.Brush(colors=palette, color_mode="fixed", default_size=16),
            layers=False,
            transforms=(),
        )

    with gr.Blocks(title=title) as demo:
        gr.Markdown(
            f"# {escape_markdown(title)}\nOne Symmetrical Flow Matching model segments, generates and edits. "
            f"Classes: {legend}"
        )
        with gr.Tab("Segment", visible=segmentation):
            with gr.Row():
                seg_image = gr.Image(label="Image", type="pil", elem_id="segment-input", height=DISPLAY_SIZE)
                seg_mask = gr.Image(
                    label="Mask",
                    type="pil",
                    elem_id="segment-mask",
                    height=DISPLAY_SIZE,
                    format="png",
                    interactive=False,
                )
                seg_uncertainty = gr.Image(
                    label="Uncertainty (entropy of the votes)",
                    type="pil",
                    elem_id="segment-uncertainty",
                    height=DISPLAY_SIZE,
                    interactive=False,
                    format="png",
                )
            with gr.Row():
                seg_steps = gr.Slider(1, 50, value=prediction_steps, step=1, label="Steps")
                seg_samples = gr.Slider(1, 16, value=1, step=1, label="Samples")
                seg_seed = gr.Number(0, label="Seed", precision=0)
            seg_note = gr.Textbox(label="Summary", interactive=False)
            seg_button = gr.Button("Segment", variant="primary", elem_id="segment-button")
            seg_button.click(
                functools.partial(segment, pipe),
                [seg_image, seg_steps, seg_samples, seg_seed],
                [seg_mask, seg_uncertainty, seg_note],
                api_name="segment",
            )

        with gr.Tab("Generate"):
            with gr.Row():
                gen_mask = mask_editor(
                    "Mask: draw with the class colours, or upload one",
                    editor_value(blank_mask(pipe)) if segmentation else None,
                )
                gen_image = gr.Image(
                    label="Generated", type="pil", height=DISPLAY_SIZE, interactive=False, format="png"
                )
            with gr.Row():
                gen_class = gr.Dropdown(
                    [AS_DRAWN] + class_choices(pipe),
                    value=AS_DRAWN,
                    label="Class",
                    info="Paints every drawn pixel with this class (classification models: the class to generate).",
                )
                gen_steps = gr.Slider(1, 50, value=generation_steps, step=1, label="Steps")
                gen_seed = gr.Number(0, label="Seed", precision=0)
            gen_button = gr.Button("Generate", variant="primary")
            gen_button.click(
                functools.partial(generate, pipe),
                [gen_mask, gen_class, gen_steps, gen_seed],
                gen_image,
                api_name="generate",
            )

        with gr.Tab("Edit", visible=segmentation and conditional):
            source_mask = gr.State(None)
            with gr.Row():
                edit_image = gr.Image(label="Image", type="pil", height=DISPLAY_SIZE)
                edit_mask = mask_editor("Mask: Auto-mask, then paint with the class colours")
                edit_result = gr.Image(
                    label="Edited", type="pil", height=DISPLAY_SIZE, interactive=False, format="png"
                )
            with gr.Row():
                edit_strength = gr.Slider(
                    0.05,
                    1.0,
                    value=1.0,
                    step=0.05,
                    label="Strength",
                    info="How far to invert: lower keeps more of the image.",
                )
                edit_steps = gr.Slider(1, 50, value=generation_steps, step=1, label="Steps")
                edit_seed = gr.Number(0, label="Seed", precision=0)
            with gr.Row():
                auto_button = gr.Button("Auto-mask")
                edit_button = gr.Button("Regenerate", variant="primary")
            auto_button.click(
                functools.partial(auto_mask, pipe),
                [edit_image, edit_seed],
                [edit_mask, source_mask],
                api_name="auto_mask",
            )
            edit_button.click(
                functools.partial(edit, pipe),
                [edit_image, edit_mask, source_mask, edit_strength, edit_steps, edit_seed],
                edit_result,
                api_name="edit",
            )
    return demo


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pipeline",
        default="symmflow-mnist",
        help="Directory of a saved SymmFlowPipeline (default: what the README's main job writes).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="Interface to serve on (0.0.0.0 exposes it).")
    parser.add_argument("--port", type=int, default=7860)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    pipe = SymmFlowPipeline.from_pretrained(args.pipeline)
    torch.set_grad_enabled(False)
    build_demo(pipe, title=f"SymmFlow: {args.pipeline}").launch(server_name=args.host, server_port=args.port)


if __name__ == "__main__":
    main()
