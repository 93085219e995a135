# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""The model card (`README.md`) of a trained SymmFlow pipeline, and pushing the pipeline to the Hub."""

from __future__ import annotations

import json
import re
from typing import Any

from ..pipelines.symmflow.symmflow_loading import CUSTOM_PIPELINE_MODULE
from .checkpointing import CHECKPOINT_PREFIX
from .output_lock import OUTPUT_DIR_LOCK, OUTPUT_DIR_LOCK_HOLDER


_METRIC_NAMES = {"mean_iou": "mIoU", "pixel_accuracy": "pixel accuracy", "accuracy": "accuracy"}
# Characters that start Markdown or HTML markup inside a line (links, emphasis, code, tables, tags, entities, math);
# line-start markup (headings, lists, rules, front matter) cannot occur once line breaks are gone.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&#$])")


def escape_markdown(text: Any) -> str:
    """`text` as literal Markdown text on one line: line breaks become spaces and markup characters are
    backslash-escaped, so a class name or a path shows as written and never adds headings, tables, links or HTML.

    Args:
        text: any value; its `str` is escaped.

    Returns:
        `str`: the escaped text.
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).splitlines()))


def _markdown_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return escape_markdown(value)


def make_model_card(
    *,
    task: str,
    dataset_description: str,
    label_encoding: str,
    num_classes: int,
    class_names: list[str] | None,
    sampling_modes: list[str],
    hyperparameters: dict[str, Any],
    training: dict[str, Any],
    metrics: dict[str, float] | None = None,
    metrics_step: int | None = None,
    prediction_steps: int = 1,
    dataset_id: str | None = None,
    base_model: str | None = None,
    repo_id: str | None = None,
    sample_image: str | None = None,
    objective_file: str | None = None,
):
    """The `README.md` of a trained SymmFlow pipeline, as a `huggingface_hub.ModelCard`.

    Args:
        task (`str`): `"segmentation"` or `"classification"`.
        dataset_description (`str`): from `SymmFlowData`.
        label_encoding (`str`), num_classes (`int`), class_names (`list[str]`, *optional*): the label side.
        sampling_modes (`list[str]`): the modes the checkpoint supports (`["joint"]`, or `["joint", "conditional"]`
            for a model with a label time input).
        hyperparameters (`dict`): setting -> value, shown as a table of the training script's flags (`--setting`);
            the settings are named as the script's flags are.
        training (`dict`): facts about the run (steps, epochs, wall time, processes, ...), shown as a table.
        metrics (`dict`, *optional*): validation scores in [0, 1] (`LabelCodec.scores`), at `metrics_step` with
            `prediction_steps` solver steps.
        dataset_id (`str`, *optional*): a Hub dataset id for the card's metadata.
        base_model (`str`, *optional*): the Stable Diffusion model fine-tuned, for the metadata.
        repo_id (`str`, *optional*): the Hub repository (used in the usage snippet; the local path otherwise).
        sample_image (`str`, *optional*): a file name, relative to the card, of generated samples to show.
        objective_file (`str`, *optional*): a file name, relative to the card, of the training objective's config
            (`SymmFlowObjective.save_config`), named in the training section with how to rebuild the objective.

    Returns:
        `huggingface_hub.ModelCard`; `.save(path)` writes it.
    """
    from huggingface_hub import ModelCard, ModelCardData

    pipeline_tag = "image-segmentation" if task == "segmentation" else "image-classification"
    card_data = ModelCardData(
        library_name="diffusers",
        license="apache-2.0",
        pipeline_tag=pipeline_tag,
        tags=["diffusers", "symmflow", "flow-matching", pipeline_tag, "image-generation"],
        datasets=[dataset_id] if dataset_id else None,
        base_model=base_model,
    )
    # A Python string literal in the card's code: quotes and line breaks in it stay inside the string.
    location = json.dumps(repo_id or "path/to/this/directory")
    modes = ", ".join(f"`{mode}`" for mode in sampling_modes)
    default_mode = "conditional" if "conditional" in sampling_modes else "joint"
    if "conditional" in sampling_modes:
        modes_text = (
            f"This checkpoint supports the sampling modes {modes}: it was trained with the label's noise level as a "
            "second time input, so it can hold the given side clean while integrating the other (`conditional`, the "
            "default) as well as follow the paper's joint ODE (`joint`)."
        )
    else:
        modes_text = (
            "This checkpoint supports the sampling mode `joint` (the paper's ODE) only: it has no label time input, "
            'so `sampling_mode="conditional"` raises.'
        )
    names = f" ({', '.join(escape_markdown(name) for name in class_names)})" if class_names else ""
    if task == "segmentation":
        usage = (
            "out = pipe.segment(images, num_inference_steps=1)  # masks, colored_masks, scores\n"
            "generated = pipe(mask=out.masks, num_inference_steps=25).images"
        )
    else:
        usage = (
            "out = pipe.classify(images, num_inference_steps=1)  # labels, scores, class_names\n"
            "generated = pipe(class_labels=[0, 1, 2], num_inference_steps=25).images"
        )

    lines = [
        f"# SymmFlow {task} model",
        "",
        'A Symmetrical Flow Matching (SymmFlow; Caetano et al., "Symmetrical Flow Matching: Unified Image '
        'Generation, Segmentation, and Classification with Score-Based Generative Models") model trained with '
        "`examples/train_symmflow.py` of diffusers-symmflow. One velocity model sees `[image | label]` and predicts "
        "`[v_x | v_y]`: integrated from the label it generates images (25 steps by default), integrated from the "
        f"image it {'segments' if task == 'segmentation' else 'classifies'} it (1 step by default).",
        "",
        f"- **Task**: {task}, {num_classes} classes{names}",
        f"- **Label encoding**: `{label_encoding}`",
        # Markdown of `SymmFlowData` (code spans around names), kept on its one line.
        f"- **Dataset**: {' '.join(dataset_description.splitlines())}",
        f"- **Sampling modes**: {modes_text}",
        "",
        "## Usage",
        "",
        "Install diffusers-symmflow (`pip install diffusers-symmflow`, or `pip install -e .` in its repository), then "
        "load the pipeline with diffusers:",
        "",
        "```python",
        "from diffusers import DiffusionPipeline",
        "",
        f"pipe = DiffusionPipeline.from_pretrained({location}, trust_remote_code=True)",
        usage,
        "```",
        "",
        f"`trust_remote_code=True` lets diffusers run `{CUSTOM_PIPELINE_MODULE}.py`, saved beside `model_index.json`, "
        "which only imports `SymmFlowPipeline` from the installed package (read it before trusting it). Without "
        "remote code, load it through the package itself:",
        "",
        "```python",
        "from diffusers_symmflow import SymmFlowPipeline",
        "",
        f"pipe = SymmFlowPipeline.from_pretrained({location})",
        "```",
        "",
        "## Validation",
        "",
    ]
    if metrics:
        lines += [
            f"Held-out validation set, {prediction_steps} solver step(s), sampling mode `{default_mode}`, at training "
            f"step {metrics_step}:",
            "",
            "| metric | value |",
            "|---|---|",
        ]
        lines += [f"| {_METRIC_NAMES.get(name, name)} | {value:.4f} |" for name, value in metrics.items()]
    else:
        lines += ["No validation was run."]
    if sample_image:
        lines += ["", "Images generated from validation labels:", "", f"![samples]({sample_image})"]
    lines += ["", "## Training", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {_markdown_value(value)} |" for key, value in training.items()]
    if objective_file:
        lines += [
            "",
            f"The training objective (paths, loss weights, time sampling, label head) is recorded in "
            f"`{objective_file}`; `SymmFlowObjective.from_config(SymmFlowObjective.load_config(path))` rebuilds it, "
            "e.g. to fine-tune with the same objective.",
        ]
    lines += ["", "### Hyper-parameters", "", "| flag | value |", "|---|---|"]
    lines += [f"| `--{key}` | {_markdown_value(value)} |" for key, value in hyperparameters.items()]
    content = f"---\n{card_data.to_yaml()}\n---\n\n" + "\n".join(lines) + "\n"
    return ModelCard(content)


def push_to_hub(output_dir: str, repo_id: str, token: str | None = None, private: bool = False) -> str:
    """Create (if needed) the model repository `repo_id` and upload the saved pipeline and card in `output_dir`.

    Checkpoints, temporary directories and logs are left out. Returns the repository URL.
    """
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    url = api.create_repo(repo_id, private=private, exist_ok=True)
    api.upload_folder(
        repo_id=repo_id,
        folder_path=output_dir,
        commit_message="Upload SymmFlow pipeline trained with train_symmflow.py",
        ignore_patterns=[f"{CHECKPOINT_PREFIX}-*", "logs/*", "*.tmp-*", OUTPUT_DIR_LOCK, OUTPUT_DIR_LOCK_HOLDER],
    )
    return str(url)
