# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""A Stable Diffusion UNet with doubled channels and a stored empty-prompt embedding, for latent SymmFlow."""

import inspect

import torch
from diffusers import ModelMixin, SchedulerMixin, UNet2DConditionModel  # noqa: F401  (looked up by name on load)
from diffusers.configuration_utils import register_to_config
from diffusers.models.embeddings import TimestepEmbedding
from diffusers.models.unets.unet_2d_condition import UNet2DConditionOutput

from ...inputs import check_positive_int


CONV_IN_INITS = ("halve", "duplicate")


class SymmFlowUNet2DConditionModel(UNet2DConditionModel):
    """`UNet2DConditionModel` whose input is `[image latents | label latents]` and whose output is `[v_x | v_y]`.

    It carries the text embedding of the empty prompt as a saved buffer, `empty_prompt_embeds` of shape
    `(1, empty_prompt_length, cross_attention_dim)`, and uses it whenever `encoder_hidden_states` is not given, so
    inference needs no text encoder or tokenizer (the authors condition on a fixed empty-prompt CLIP embedding).

    Everything else is a plain `UNet2DConditionModel`: the config and weights load with `from_pretrained`, and a
    label-time input, when present, is diffusers' own `class_embed_type="timestep"` embedding fed through
    `class_labels`.

    Args:
        empty_prompt_length (`int`, defaults to 77): sequence length of the stored embedding (CLIP's 77 tokens).
        **kwargs: the `UNet2DConditionModel` config (`in_channels` / `out_channels` are the doubled counts).
    """

    @register_to_config
    def __init__(self, empty_prompt_length: int = 77, **kwargs):
        super().__init__(**kwargs)
        dim = self.config.cross_attention_dim
        dim = dim[0] if isinstance(dim, (list, tuple)) else dim
        self.register_buffer("empty_prompt_embeds", torch.zeros(1, empty_prompt_length, dim))

    @staticmethod
    def _get_init_keys(input_class):
        # `__init__` forwards **kwargs to UNet2DConditionModel; advertise the parent's arguments too so that
        # `from_config` / `from_pretrained` hand the whole saved config to `__init__`.
        keys = set(inspect.signature(input_class.__init__).parameters)
        if isinstance(input_class, type) and issubclass(input_class, SymmFlowUNet2DConditionModel):
            keys |= set(inspect.signature(UNet2DConditionModel.__init__).parameters)
            keys.discard("kwargs")
        return keys

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | float | int,
        encoder_hidden_states: torch.Tensor | None = None,
        class_labels: torch.Tensor | None = None,
        **kwargs,
    ) -> UNet2DConditionOutput | tuple:
        """`UNet2DConditionModel.forward`, with `encoder_hidden_states` defaulting to the stored empty prompt."""
        if encoder_hidden_states is None:
            encoder_hidden_states = self.empty_prompt_embeds.expand(sample.shape[0], -1, -1).to(sample.dtype)
        return super().forward(sample, timestep, encoder_hidden_states, class_labels=class_labels, **kwargs)

    @torch.no_grad()
    def set_empty_prompt_embeds(self, embeds: torch.Tensor) -> None:
        """Store a new empty-prompt embedding of shape `(1, L, cross_attention_dim)` (L may differ from before)."""
        if embeds.ndim != 3 or embeds.shape[0] != 1 or embeds.shape[2] != self.empty_prompt_embeds.shape[2]:
            raise ValueError(
                f"Expected an embedding of shape (1, L, {self.empty_prompt_embeds.shape[2]}), got {tuple(embeds.shape)}."
            )
        self.empty_prompt_embeds = embeds.detach().to(self.empty_prompt_embeds)
        self.register_to_config(empty_prompt_length=embeds.shape[1])

    @classmethod
    @torch.no_grad()
    def from_stable_diffusion(
        cls,
        unet: UNet2DConditionModel,
        label_channels: int | None = None,
        label_time: bool = True,
        text_encoder=None,
        tokenizer=None,
        conv_in_init: str = "halve",
    ) -> "SymmFlowUNet2DConditionModel":
        """Widen a pretrained Stable Diffusion UNet for SymmFlow, keeping its pretrained kernels.

        `conv_in` goes from `C` to `C + label_channels` input channels and `conv_out` from `C` to
        `C + label_channels` output channels:

        * `conv_out`: the pretrained kernels and bias are duplicated (the authors' choice), so both halves start as
          the pretrained velocity-like prediction of a latent, which is what each half must learn to predict.
        * `conv_in`: by default (`"halve"`) the pretrained kernels are repeated for the label channels and all
          scaled by `C / (C + label_channels)` (Marigold's choice), so when both halves carry latents of similar
          scale the first activations keep their pretrained magnitude instead of doubling. `"duplicate"` repeats
          them unscaled, as the authors do, to reproduce their runs.

        With `label_time=True` the model also gets diffusers' `class_embed_type="timestep"` embedding for the label's
        noise level, with its last layer zero-initialised so the widened model starts out computing exactly what the
        pretrained one did.

        Args:
            unet (`UNet2DConditionModel`): the pretrained UNet (SD 2.1 in the paper).
            label_channels (`int`, *optional*): channels of the label side; defaults to the UNet's `in_channels`
                (4 VAE latent channels for palette masks).
            label_time (`bool`, defaults to `True`): add the second time input (enables conditional sampling).
            text_encoder: with `tokenizer`, computes the empty prompt's embedding, which is stored; without both, a
                zero embedding of CLIP's length is stored (set it later with `set_empty_prompt_embeds`).
            tokenizer: the text encoder's tokenizer, see `text_encoder`.
            conv_in_init (`str`, defaults to `"halve"`): `"halve"` or `"duplicate"`, see above.
        """
        if conv_in_init not in CONV_IN_INITS:
            raise ValueError(f"Unknown conv_in_init {conv_in_init!r}; choose one of {CONV_IN_INITS}.")
        if unet.config.class_embed_type is not None or unet.config.num_class_embeds is not None:
            raise ValueError(
                "The UNet already has a class embedding "
                f"(class_embed_type={unet.config.class_embed_type!r}); SymmFlow needs that slot for the label time."
            )
        image_channels = unet.config.in_channels
        if unet.config.out_channels != image_channels:
            raise ValueError(
                f"Expected a UNet with as many output as input channels, got {image_channels} -> {unet.config.out_channels}."
            )
        label_channels = image_channels if label_channels is None else label_channels
        check_positive_int("label_channels", label_channels)

        config = {k: v for k, v in unet.config.items() if not k.startswith("_")}
        config.update(
            in_channels=image_channels + label_channels,
            out_channels=image_channels + label_channels,
            class_embed_type="timestep" if label_time else None,
        )
        model = cls(empty_prompt_length=77, **config).to(device=unet.device, dtype=unet.dtype)

        state = unet.state_dict()
        widened = {k: v for k, v in state.items() if not k.startswith(("conv_in.weight", "conv_out."))}
        in_kernel = state["conv_in.weight"]
        in_repeats = -(-label_channels // image_channels)  # ceil: label side may be wider than the image side
        label_in = in_kernel.repeat(1, in_repeats, 1, 1)[:, :label_channels]
        new_in = torch.cat([in_kernel, label_in], dim=1)
        if conv_in_init == "halve":
            new_in = new_in * (image_channels / (image_channels + label_channels))
        widened["conv_in.weight"] = new_in
        out_kernel, out_bias = state["conv_out.weight"], state["conv_out.bias"]
        out_repeats = -(-label_channels // image_channels)
        widened["conv_out.weight"] = torch.cat(
            [out_kernel, out_kernel.repeat(out_repeats, 1, 1, 1)[:label_channels]], dim=0
        )
        widened["conv_out.bias"] = torch.cat([out_bias, out_bias.repeat(out_repeats)[:label_channels]])
        missing, unexpected = model.load_state_dict(widened, strict=False)
        expected_missing = {"empty_prompt_embeds"} | {
            k for k in model.state_dict() if k.startswith("class_embedding.")
        }
        if set(missing) - expected_missing or unexpected:
            raise RuntimeError(f"Unexpected weights while widening: missing {missing}, unexpected {unexpected}.")
        if label_time:
            # Start with the pretrained computation exactly: the label-time embedding adds zero until trained.
            embedding: TimestepEmbedding = model.class_embedding
            torch.nn.init.zeros_(embedding.linear_2.weight)
            torch.nn.init.zeros_(embedding.linear_2.bias)

        if (text_encoder is None) != (tokenizer is None):
            raise ValueError(
                "Pass both `text_encoder` and `tokenizer` to compute the empty-prompt embedding, or neither."
            )
        if text_encoder is not None:
            model.set_empty_prompt_embeds(encode_empty_prompt(text_encoder, tokenizer))
        return model


@torch.no_grad()
def encode_empty_prompt(text_encoder, tokenizer) -> torch.Tensor:
    """Text embedding of `""` padded to the tokenizer's length, shape `(1, L, hidden)`, as Stable Diffusion sees it."""
    tokens = tokenizer(
        "", padding="max_length", max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt"
    )
    return text_encoder(tokens.input_ids.to(text_encoder.device))[0]
