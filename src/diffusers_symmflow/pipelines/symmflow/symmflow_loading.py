# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""Saving and loading a `SymmFlowPipeline` through plain diffusers.

`save_pretrained` records the label space the UNet's channels were trained for and writes a loader module beside
`model_index.json`, so a saved pipeline loads with `SymmFlowPipeline.from_pretrained(path)` and with
`diffusers.DiffusionPipeline.from_pretrained(path, trust_remote_code=True)`; `from_pretrained` checks the pipeline
against the training objective saved beside it.
"""

import json
import os
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from .pipeline_symmflow import SymmFlowPipeline


CUSTOM_PIPELINE_MODULE = "pipeline_symmflow"
"""The module `save_pretrained` writes beside `model_index.json`, which names the class as `[module, class]`, so that
`diffusers.DiffusionPipeline.from_pretrained(path, trust_remote_code=True)` finds `SymmFlowPipeline` through diffusers'
custom-pipeline mechanism."""
_CUSTOM_PIPELINE_CODE = '''"""Loads SymmFlowPipeline for `DiffusionPipeline.from_pretrained(..., trust_remote_code=True)`.

diffusers runs this file because model_index.json names the pipeline class as ["pipeline_symmflow",
"SymmFlowPipeline"]. It only imports the pipeline (and, with it, the SymmFlow scheduler and UNet classes that the
components name) from the installed diffusers-symmflow package; it holds no code of its own.
"""

try:
    from diffusers_symmflow import SymmFlowPipeline  # noqa: F401
except ImportError as error:
    raise ImportError(
        "This pipeline is a SymmFlowPipeline, which needs the diffusers-symmflow package: install it (`pip install "
        "diffusers-symmflow`, or `pip install -e .` in its repository), then load again."
    ) from error
'''
LABEL_SPACE_KEY = "_symmflow_label_space"
"""The UNet config entry where `save_pretrained` records the settings the UNet's channels were trained for (task,
label code, classes, label head, image channels, timestep scale), so a pipeline built around it, from an edited
`model_index.json` or scheduler config, is refused with what disagrees instead of giving wrong outputs."""
OBJECTIVE_CONFIG_NAME = "symmflow_objective.json"
"""`SymmFlowObjective.config_name`: the training objective `examples/train_symmflow.py` saves beside the pipeline."""


class SymmFlowLoadingMixin:
    """`save_pretrained` / `from_pretrained` of `SymmFlowPipeline` (mixed in before `DiffusionPipeline`).

    Reads the host pipeline's `config`, `unet`, `scheduler`, `num_pixel_channels` and `supports_conditional_sampling`.
    """

    def label_space(self) -> dict:
        """The settings the UNet's channels mean something under; `save_pretrained` records them with the UNet.

        Returns:
            `dict` (JSON values): `task`, `label_encoding`, `num_classes`, `ignore_index`, `background_class`, `beta`,
            `label_prediction`, `label_input`, `image_channels` (of the images users pass), `num_train_timesteps`
            (the scheduler's timestep scale), and `palette` for the `"palette"` code (the colours are the code).
        """
        config = self.config
        space = {
            key: config[key]
            for key in (
                "task",
                "label_encoding",
                "num_classes",
                "ignore_index",
                "background_class",
                "beta",
                "label_prediction",
                "label_input",
            )
        }
        space["image_channels"] = self.num_pixel_channels
        space["num_train_timesteps"] = self.scheduler.config.num_train_timesteps
        if config.label_encoding == "palette":
            space["palette"] = config.palette
        return json.loads(json.dumps(space))  # JSON values, as a reloaded config holds them

    def _check_label_space(self) -> None:
        recorded = self.unet.config.get(LABEL_SPACE_KEY)
        if not recorded:
            return  # a UNet never saved in a SymmFlow pipeline (or saved before the record existed)
        current = self.label_space()
        differ = [key for key in recorded if recorded[key] != current.get(key)]
        if differ:
            found = [
                f"`{key}` is {current.get(key)!r} but the UNet was saved with {recorded[key]!r}" for key in differ
            ]
            raise ValueError(
                "The pipeline's settings disagree with the ones its UNet was trained and saved with: "
                + "; ".join(found)
                + ". A config edited after saving (model_index.json, or the scheduler's) would give wrong outputs "
                "without an error; restore the saved values. To train this UNet for other settings, clear the record "
                f"first: `unet.register_to_config({LABEL_SPACE_KEY}=None)`."
            )

    def save_pretrained(self, save_directory: str | os.PathLike, **kwargs) -> None:
        """`DiffusionPipeline.save_pretrained`, recording `label_space()` in the UNet's config (`LABEL_SPACE_KEY`).

        A pipeline later built around the saved UNet with other settings is refused, naming what disagrees.
        """
        self.unet.register_to_config(**{LABEL_SPACE_KEY: self.label_space()})
        super().save_pretrained(save_directory, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs) -> "SymmFlowPipeline":
        """`DiffusionPipeline.from_pretrained`, then a check against the training objective saved beside the pipeline.

        When the folder holds `symmflow_objective.json` (what `examples/train_symmflow.py` saves), its
        `label_prediction`, `num_train_timesteps` and `label_time` (whether the model needs a label time input) must
        agree with the loaded pipeline's `label_prediction`, scheduler and UNet; a `ValueError` names what does not.
        Pipelines saved before `save_pretrained` recorded `label_space()` are checked this way too.
        """
        pipe = super().from_pretrained(pretrained_model_name_or_path, **kwargs)
        objective_file = os.path.join(os.fspath(pretrained_model_name_or_path), OBJECTIVE_CONFIG_NAME)
        if os.path.isfile(objective_file):
            with open(objective_file, encoding="utf-8") as file:
                pipe.check_objective_config(json.load(file))
        return pipe

    def check_objective_config(self, objective_config: dict) -> None:
        """Raise a `ValueError` naming each setting of the training objective's config that this pipeline contradicts.

        Args:
            objective_config (`dict`): a `SymmFlowObjective` config (`symmflow_objective.json`).
        """
        needs_label_time = objective_config.get("label_time", "diagonal") != "diagonal"
        checks = [
            (
                "label_prediction",
                objective_config.get("label_prediction"),
                self.config.label_prediction,
                "the pipeline's `label_prediction`",
            ),
            (
                "num_train_timesteps",
                objective_config.get("num_train_timesteps"),
                self.scheduler.config.num_train_timesteps,
                "the scheduler's `num_train_timesteps`",
            ),
            (
                "label_time",
                needs_label_time,
                self.supports_conditional_sampling,
                "whether the UNet takes a label time input (`class_embed_type='timestep'`)",
            ),
        ]
        differ = [
            f"the objective's `{key}` is {objective_config.get(key)!r} but {what} is {ours!r}"
            for key, theirs, ours, what in checks
            if theirs is not None and theirs != ours
        ]
        if differ:
            raise ValueError(
                f"The pipeline disagrees with the training objective saved beside it ({OBJECTIVE_CONFIG_NAME}): "
                + "; ".join(differ)
                + ". A config edited after saving would give wrong outputs; restore the saved values."
            )

    def save_config(self, save_directory: str | os.PathLike, **kwargs) -> None:
        """Write `model_index.json` naming this class `[CUSTOM_PIPELINE_MODULE, class name]`, and that module beside it.

        `save_pretrained` calls this, so a saved (or pushed) pipeline loads both with `SymmFlowPipeline.from_pretrained
        (path)` and with `diffusers.DiffusionPipeline.from_pretrained(path, trust_remote_code=True)` (diffusers'
        custom-pipeline mechanism; the module only imports this class from the installed package).
        """
        if kwargs.get("push_to_hub"):
            raise ValueError("Push a SymmFlowPipeline with `save_pretrained(..., push_to_hub=True)`.")
        super().save_config(save_directory, **kwargs)
        config_file = os.path.join(save_directory, self.config_name)
        with open(config_file, encoding="utf-8") as file:
            config = json.load(file)
        config["_class_name"] = [CUSTOM_PIPELINE_MODULE, self.__class__.__name__]
        with open(config_file, "w", encoding="utf-8") as file:
            file.write(json.dumps(config, indent=2, sort_keys=True) + "\n")
        with open(os.path.join(save_directory, f"{CUSTOM_PIPELINE_MODULE}.py"), "w", encoding="utf-8") as file:
            file.write(_CUSTOM_PIPELINE_CODE)

    @classmethod
    def _dict_from_json_file(cls, json_file: str | os.PathLike) -> dict:
        # Loading through this class needs no remote code: read `[module, "SymmFlowPipeline"]` as this class's own
        # name, or diffusers would insist on running the module beside model_index.json (trust_remote_code=True).
        config = super()._dict_from_json_file(json_file)
        name = config.get("_class_name")
        if isinstance(name, (list, tuple)) and len(name) == 2 and name[0] == CUSTOM_PIPELINE_MODULE:
            config["_class_name"] = name[1]
        return config
