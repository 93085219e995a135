"""The solver loop's shared parts (pipelines/symmflow/symmflow_sampling.py): where and in which dtype a call runs.
The loop itself is exercised by every entry point's tests."""

import types

import torch


def test_execution_placement_is_diffusers_placement(seg_pipe):
    # The per-call shortcut answers what diffusers' own (slower) lookups answer, across dtypes.
    pipe = seg_pipe
    assert (
        pipe._execution_placement()
        == (pipe._execution_device, pipe.unet.dtype)
        == (torch.device("cpu"), torch.float32)
    )
    pipe.to("cpu", torch.float64)
    assert pipe._execution_placement() == (torch.device("cpu"), torch.float64)


def test_execution_placement_defers_to_hooks(pixel_seg_pipe):
    pipe = pixel_seg_pipe
    # An accelerate offloading hook decides where the call runs (here a made-up execution device).
    pipe.unet._hf_hook = types.SimpleNamespace(execution_device=torch.device("meta"))
    assert pipe._execution_placement()[0] == torch.device("meta")
    del pipe.unet._hf_hook
    # Layerwise casting stores the weights in float8 and computes in float32: the dtype is the compute dtype.
    pipe.unet.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=torch.float32)
    assert any(p.dtype == torch.float8_e4m3fn for p in pipe.unet.parameters())
    assert pipe._execution_placement() == (torch.device("cpu"), torch.float32)
