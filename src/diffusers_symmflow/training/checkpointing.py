# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""Atomic, verifiable training checkpoints: saving, finding, verifying and resuming them.

Checkpoints are written so that a kill at any moment never leaves one that `latest` would pick but cannot load:

1. every process writes into a fresh `checkpoint-N.tmp-<token>` directory (`accelerator.save_state`: model,
   optimizer, LR scheduler and each process's RNG states), plus its own `symmflow_process_state_<rank>.safetensors`
   (the training noise generator and the data position), and the main process `symmflow_shared_state.safetensors`
   (the EMA weights, `ema_checkpoint_state`); ours hold tensors in safetensors and the rest as JSON in its metadata,
   so reading them never unpickles anything;
2. after all processes are done, the main process writes the completion marker `symmflow_checkpoint.json`
   (flushed and fsync-ed) and renames the directory to `checkpoint-N` in one `os.replace`;
3. only then are the oldest complete checkpoints beyond `save_checkpoint`'s `total_limit`, and leftovers of
   interrupted saves, deleted.

`latest` considers only directories named exactly `checkpoint-N` that hold the marker, and warns about the others.
The marker lists every file of the checkpoint with its size and SHA-256, so `resolve_resume_checkpoint` can also verify
a complete checkpoint that was damaged afterwards (a file deleted, truncated or changed in place, a safetensors header
unreadable): `latest` falls back to the newest checkpoint that verifies, naming what is damaged; a checkpoint named
explicitly raises. The hashes catch damage, not tampering (whoever can write a file can rewrite the marker): the files
accelerate writes (`optimizer.bin`, `scheduler.bin`, `random_states_<rank>.pkl`) are pickles, so a checkpoint is
trusted input like any pickle.

A second run in the same output directory would delete this run's checkpoint being written (as an interrupted save):
`output_lock.lock_output_dir` keeps it out.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import struct
import time
import uuid
from typing import Any

import torch

from ..inputs import check_positive_int


logger = logging.getLogger(__name__)

CHECKPOINT_PREFIX = "checkpoint"
CHECKPOINT_MARKER = "symmflow_checkpoint.json"
PROCESS_STATE_FILE = "symmflow_process_state_{}.safetensors"
# Written by earlier versions with `torch.save`; read only with `torch.load(weights_only=True)`.
LEGACY_PROCESS_STATE_FILE = "symmflow_process_state_{}.pt"
_PROCESS_STATE_METADATA_KEY = "symmflow_process_state"
SHARED_STATE_FILE = "symmflow_shared_state.safetensors"
# Where accelerate's `register_for_checkpointing` put the EMA in earlier versions (a pickle).
LEGACY_EMA_FILE = "custom_checkpoint_0.pkl"
_TEMPORARY_INFIX = ".tmp-"
_REPLACED_INFIX = ".old-"
_CHECKPOINT_NAME = re.compile(rf"{CHECKPOINT_PREFIX}-(\d+)")


# ----------------------------------------------------------------------------------------------------------------
# Finding checkpoints
# ----------------------------------------------------------------------------------------------------------------


def checkpoint_step(name: str) -> int | None:
    """The step of a directory named exactly `checkpoint-N`, else `None` (temporary and other names)."""
    match = _CHECKPOINT_NAME.fullmatch(os.path.basename(os.path.normpath(name)))
    return int(match.group(1)) if match else None


def is_complete_checkpoint(path: str) -> bool:
    """Whether `path` is a `checkpoint-N` directory whose save finished (it holds the completion marker)."""
    return checkpoint_step(path) is not None and os.path.isfile(os.path.join(path, CHECKPOINT_MARKER))


def list_checkpoints(output_dir: str, warn: bool = True) -> list[tuple[int, str]]:
    """Complete checkpoints in `output_dir` as `(step, path)`, oldest first.

    Args:
        output_dir (`str`): the training output directory.
        warn (`bool`, defaults to `True`): log a warning for each checkpoint directory that is skipped because its
            save was interrupted (a `checkpoint-N.tmp-*` directory, or a `checkpoint-N` without the marker).
    """
    if not os.path.isdir(output_dir):
        return []
    complete = []
    for name in sorted(os.listdir(output_dir)):
        path = os.path.join(output_dir, name)
        if not name.startswith(f"{CHECKPOINT_PREFIX}-") or not os.path.isdir(path):
            continue
        step = checkpoint_step(name)
        if step is not None and is_complete_checkpoint(path):
            complete.append((step, path))
        elif warn:
            logger.warning(
                f"Skipping {path}: its save did not finish (no {CHECKPOINT_MARKER}"
                + (" and a temporary name)" if step is None else ")")
                + "; it is never resumed from."
            )
    return sorted(complete)


def _safetensors_problem(file: str) -> str | None:
    """Why a safetensors file cannot be loaded (unreadable header, data cut short), or `None` if it looks whole."""
    size = os.path.getsize(file)
    try:
        with open(file, "rb") as handle:
            prefix = handle.read(8)
            if len(prefix) < 8:
                return f"{file} is {size} bytes, too short for a safetensors header"
            (header_length,) = struct.unpack("<Q", prefix)
            if header_length > size - 8:
                return f"{file} has an invalid safetensors header length ({header_length} bytes in a {size}-byte file)"
            header = json.loads(handle.read(header_length))
    except (OSError, ValueError) as error:
        return f"{file} has an unreadable safetensors header ({error})"
    ends = [entry["data_offsets"][1] for key, entry in header.items() if key != "__metadata__"]
    expected = 8 + header_length + max(ends, default=0)
    if size < expected:
        return f"{file} is truncated: {size} bytes where its header describes {expected}"
    return None


def verify_checkpoint(path: str) -> list[str]:
    """What is damaged in a complete checkpoint; an empty list when it looks loadable.

    Checks that the completion marker parses, that every file it lists is present with the size and SHA-256 it had
    when saved (checkpoints from before sizes or hashes were recorded skip those checks), and that every
    `*.safetensors` file's header is readable and describes no more data than the file holds. Loading is not attempted
    (it would be as slow as a resume); hashing reads every file once.
    """
    try:
        metadata = read_checkpoint_metadata(path)
    except (OSError, ValueError) as error:
        return [f"{os.path.join(path, CHECKPOINT_MARKER)} is unreadable ({error})"]
    problems = []
    for name, saved in (metadata.get("files") or {}).items():
        # Markers written before hashes were recorded hold the size alone.
        size, digest = (saved, None) if isinstance(saved, int) else (saved.get("size"), saved.get("sha256"))
        file = os.path.join(path, name)
        if not os.path.isfile(file):
            problems.append(f"{file} is missing")
        elif os.path.getsize(file) != size:
            problems.append(f"{file} is {os.path.getsize(file)} bytes, {size} when saved")
        elif digest is not None and _sha256(file) != digest:
            problems.append(f"{file} has changed since it was saved (its SHA-256 differs from the marker's)")
    for directory, _, names in os.walk(path):
        for name in sorted(names):
            file = os.path.join(directory, name)
            if name.endswith(".safetensors") and os.path.isfile(file):
                problem = _safetensors_problem(file)
                if problem is not None and not any(p.startswith(f"{file} ") for p in problems):
                    problems.append(problem)
    return problems


def _sha256(file: str) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checkpoint_files(path: str) -> dict[str, dict[str, Any]]:
    """Relative path -> `{"size", "sha256"}` of every file under `path` (the marker records them, see
    `verify_checkpoint`)."""
    files = {}
    for directory, _, names in os.walk(path):
        for name in names:
            file = os.path.join(directory, name)
            files[os.path.relpath(file, path)] = {"size": os.path.getsize(file), "sha256": _sha256(file)}
    return dict(sorted(files.items()))


def latest_checkpoint(output_dir: str) -> str | None:
    """The complete checkpoint with the highest step in `output_dir`, or `None` (incomplete ones are skipped)."""
    checkpoints = list_checkpoints(output_dir)
    return checkpoints[-1][1] if checkpoints else None


def resolve_resume_checkpoint(resume_from_checkpoint: str, output_dir: str) -> str | None:
    """The checkpoint directory `resume_from_checkpoint` names.

    Args:
        resume_from_checkpoint (`str`): `"latest"` (the newest complete checkpoint in `output_dir` that passes
            `verify_checkpoint`, with a warning naming what is damaged in each newer one; `None` if there is no
            complete checkpoint), or a path; a bare `checkpoint-N` is looked up in `output_dir`, as diffusers'
            scripts do.
        output_dir (`str`): the training output directory.

    Raises:
        ValueError: if a named checkpoint does not exist, its save did not finish, or it is damaged (the message
            names the files); with `"latest"`, if every complete checkpoint is damaged.
    """
    if resume_from_checkpoint == "latest":
        checkpoints = list_checkpoints(output_dir)
        damaged = []
        for _, path in reversed(checkpoints):
            problems = verify_checkpoint(path)
            if not problems:
                return path
            damaged.append(path)
            logger.warning(f"Not resuming from {path}, which is damaged: {'; '.join(problems)}. Trying an older one.")
        if damaged:
            raise ValueError(
                f"`resume_from_checkpoint` 'latest': every complete checkpoint in {output_dir} is damaged ({damaged}; "
                "the warnings above name the files). Start a new run or repair one."
            )
        return None
    path = resume_from_checkpoint
    if not os.path.isdir(path) and os.path.isdir(os.path.join(output_dir, os.path.basename(path))):
        path = os.path.join(output_dir, os.path.basename(path))
    if not os.path.isdir(path):
        raise ValueError(f"`resume_from_checkpoint` {resume_from_checkpoint!r}: no such checkpoint directory.")
    if not is_complete_checkpoint(path):
        raise ValueError(
            f"`resume_from_checkpoint` {resume_from_checkpoint!r}: {path} is not a complete checkpoint (its save was "
            f"interrupted, or it lacks {CHECKPOINT_MARKER}); use 'latest' or another checkpoint."
        )
    problems = verify_checkpoint(path)
    if problems:
        raise ValueError(
            f"`resume_from_checkpoint` {resume_from_checkpoint!r}: {path} is damaged: {'; '.join(problems)}. Use "
            "'latest' (it falls back to the newest checkpoint that is whole) or another checkpoint."
        )
    return path


def read_checkpoint_metadata(path: str) -> dict[str, Any]:
    """The completion marker of a checkpoint: `step`, `saved_at`, `num_processes` and the training metadata."""
    with open(os.path.join(path, CHECKPOINT_MARKER), encoding="utf-8") as file:
        return json.load(file)


def _load_state_file(file: str) -> dict[str, Any]:
    """A state file of `_save_state_file`: its tensors and the JSON values of its metadata; nothing is unpickled."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(file, framework="pt", device="cpu") as handle:
            state = json.loads((handle.metadata() or {}).get(_PROCESS_STATE_METADATA_KEY, "{}"))
            state.update({key: handle.get_tensor(key) for key in handle.keys()})  # noqa: SIM118 (not a dict)
    except (OSError, ValueError, SafetensorError) as error:
        raise ValueError(f"{file} is not a readable process state ({error}).") from error
    return state


def _load_legacy_pickle(file: str) -> Any:
    """A `torch.save` file of an earlier version, read with `weights_only=True` (tensors and plain values only)."""
    import pickle

    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as error:
        raise ValueError(
            f"{file} holds more than tensors and plain values, so it was not loaded (loading it could run code "
            f"it contains): {error}. Resume from a checkpoint you trust, or start a new run."
        ) from error


def load_process_state(path: str, process_index: int) -> dict[str, Any] | None:
    """This process's state file of a checkpoint (as saved by `save_checkpoint`), or `None` if it has none (e.g. more
    processes than when saved).

    Nothing in the file is unpickled: it is a safetensors file (tensors) whose metadata holds the other values as
    JSON. A checkpoint of an earlier version holds a `torch.save` file instead, read with `weights_only=True` (plain
    tensors, numbers, strings, lists and dicts only).

    Raises:
        ValueError: if the file cannot be read as such (e.g. a legacy file holding other Python objects).
    """
    file = os.path.join(path, PROCESS_STATE_FILE.format(process_index))
    if os.path.isfile(file):
        return _load_state_file(file)
    legacy = os.path.join(path, LEGACY_PROCESS_STATE_FILE.format(process_index))
    return _load_legacy_pickle(legacy) if os.path.isfile(legacy) else None


def load_shared_state(path: str) -> dict[str, Any] | None:
    """The state all processes share in a checkpoint (`save_checkpoint(shared_state=...)`), or `None` if it has none.
    Read as `load_process_state` reads, without unpickling."""
    file = os.path.join(path, SHARED_STATE_FILE)
    return _load_state_file(file) if os.path.isfile(file) else None


def ema_checkpoint_state(ema) -> dict[str, Any]:
    """The state of a diffusers `EMAModel` as `save_checkpoint`'s `shared_state` takes it (tensors at the top level:
    `ema.shadow_params.<i>`; the rest under `ema`)."""
    state = ema.state_dict()
    shadow = {f"ema.shadow_params.{index}": tensor for index, tensor in enumerate(state.pop("shadow_params"))}
    return {"ema": state, **shadow}


def load_ema_checkpoint_state(ema, path: str) -> None:
    """Restore a diffusers `EMAModel` from a checkpoint: from its shared state (`ema_checkpoint_state`), or from the
    `custom_checkpoint_0.pkl` that accelerate wrote in earlier versions, read with `weights_only=True`.

    Raises:
        ValueError: if the checkpoint holds no EMA, or an unreadable one.
    """
    shared = load_shared_state(path) or {}
    if "ema" in shared:
        count = sum(key.startswith("ema.shadow_params.") for key in shared)
        state = {**shared["ema"], "shadow_params": [shared[f"ema.shadow_params.{index}"] for index in range(count)]}
    elif os.path.isfile(os.path.join(path, LEGACY_EMA_FILE)):
        state = _load_legacy_pickle(os.path.join(path, LEGACY_EMA_FILE))
    else:
        raise ValueError(f"{path} holds no EMA weights (it was saved without an EMA).")
    if len(state["shadow_params"]) != len(ema.shadow_params):
        raise ValueError(
            f"{path} holds EMA weights of {len(state['shadow_params'])} tensors; this model trains "
            f"{len(ema.shadow_params)}."
        )
    ema.load_state_dict(state)


def _save_state_file(state: dict[str, Any], file: str) -> None:
    from safetensors.torch import save_file

    tensors = {key: value.detach().cpu().contiguous() for key, value in state.items() if torch.is_tensor(value)}
    others = {key: value for key, value in state.items() if not torch.is_tensor(value)}
    try:
        metadata = json.dumps(others)
    except TypeError as error:
        raise TypeError(
            f"`process_state` values must be tensors or JSON-serialisable; {sorted(others)} are not all: {error}"
        ) from error
    save_file(tensors, file, metadata={_PROCESS_STATE_METADATA_KEY: metadata})


def changed_settings(saved: dict[str, Any], current: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """`(key, saved value, current value)` for each key of `current` whose value differs from `saved`'s.

    Values are compared as JSON (a tuple equals the list it was saved as); a key missing from `saved` is not compared
    (a checkpoint from before it was recorded). Nested dicts are compared key by key, named `outer.inner`.

    Args:
        saved (`dict`): settings as stored in a checkpoint marker (`read_checkpoint_metadata(path)["model"]`).
        current (`dict`): the same settings of this run.
    """
    changes = []
    for key, value in current.items():
        if key not in saved:
            continue
        old, new = saved[key], json.loads(json.dumps(value, default=str))
        if isinstance(old, dict) and isinstance(new, dict):
            changes += [(f"{key}.{inner}", a, b) for inner, a, b in changed_settings(old, new)]
            changes += [(f"{key}.{inner}", old[inner], None) for inner in sorted(set(old) - set(new))]
        elif old != new:
            changes.append((key, old, new))
    return changes


# ----------------------------------------------------------------------------------------------------------------
# Saving checkpoints
# ----------------------------------------------------------------------------------------------------------------


def _fsync_directory(path: str) -> None:
    # Makes the rename itself durable; not every platform lets a directory be opened.
    with contextlib.suppress(OSError):
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def prune_checkpoints(output_dir: str, total_limit: int | None) -> list[str]:
    """Delete the oldest complete checkpoints until at most `total_limit` remain; returns the deleted paths.

    Incomplete checkpoints are not counted (and are left for `save_checkpoint` to clean up).
    """
    if total_limit is None:
        return []
    check_positive_int("total_limit", total_limit)
    checkpoints = list_checkpoints(output_dir, warn=False)
    removed = [path for _, path in checkpoints[: max(0, len(checkpoints) - total_limit)]]
    for path in removed:
        logger.info(f"Removing {path} (keeping the newest {total_limit}).")
        shutil.rmtree(path)
    return removed


def _remove_interrupted_saves(output_dir: str, keep: str | None = None) -> None:
    for name in os.listdir(output_dir):
        path = os.path.join(output_dir, name)
        interrupted = _TEMPORARY_INFIX in name or _REPLACED_INFIX in name
        if name.startswith(f"{CHECKPOINT_PREFIX}-") and interrupted and os.path.isdir(path) and path != keep:
            logger.info(f"Removing {path}, left by an interrupted save.")
            shutil.rmtree(path, ignore_errors=True)


def save_checkpoint(
    accelerator,
    output_dir: str,
    step: int,
    process_state: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    total_limit: int | None = None,
    shared_state: dict[str, Any] | None = None,
) -> str:
    """Save the full training state atomically as `output_dir/checkpoint-<step>`; call it on every process.

    Args:
        accelerator (`accelerate.Accelerator`): saves the prepared model(s), optimizer(s), scheduler(s), the objects
            registered with `register_for_checkpointing` (pickles; pass an EMA as `shared_state` instead) and every
            process's RNG states.
        output_dir (`str`): the training output directory.
        step (`int`): the optimisation step reached.
        process_state (`dict`, *optional*): this process's own state: tensors (e.g. a generator state) and
            JSON-serialisable values (e.g. a data position), saved without pickle and returned by
            `load_process_state(path, process_index)`.
        metadata (`dict`, *optional*): JSON-serialisable facts stored in the completion marker (e.g. the epoch).
        total_limit (`int`, *optional*): keep at most this many complete checkpoints, deleting the oldest after the
            new one is complete.
        shared_state (`dict`, *optional*): state that every process holds alike (e.g. `ema_checkpoint_state(ema)`),
            saved once by the main process like `process_state` and returned by `load_shared_state(path)`.

    Returns:
        `str`: the path of the new checkpoint.
    """
    from accelerate.utils import broadcast_object_list

    # All processes must write into the same fresh directory: the main process draws its name.
    token = [uuid.uuid4().hex[:12] if accelerator.is_main_process else None]
    if accelerator.num_processes > 1:
        token = broadcast_object_list(token)
    temporary = os.path.join(output_dir, f"{CHECKPOINT_PREFIX}-{step}{_TEMPORARY_INFIX}{token[0]}")
    final = os.path.join(output_dir, f"{CHECKPOINT_PREFIX}-{step}")
    if accelerator.is_main_process:
        os.makedirs(temporary)
    accelerator.wait_for_everyone()

    accelerator.save_state(temporary)
    if process_state is not None:
        state_file = os.path.join(temporary, PROCESS_STATE_FILE.format(accelerator.process_index))
        _save_state_file(process_state, state_file)
    if shared_state is not None and accelerator.is_main_process:
        _save_state_file(shared_state, os.path.join(temporary, SHARED_STATE_FILE))
    accelerator.wait_for_everyone()

    if accelerator.is_main_process:
        marker = {
            "step": step,
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "num_processes": accelerator.num_processes,
            **(metadata or {}),
            "files": _checkpoint_files(temporary),
        }
        with open(os.path.join(temporary, CHECKPOINT_MARKER), "w", encoding="utf-8") as file:
            json.dump(marker, file, indent=2, default=str)
            file.flush()
            os.fsync(file.fileno())
        replaced = None
        if os.path.exists(final):
            # A checkpoint of the same step (a run resumed from an older one): swap it out, never delete it first.
            replaced = f"{final}{_REPLACED_INFIX}{token[0]}"
            os.replace(final, replaced)
        os.replace(temporary, final)
        _fsync_directory(output_dir)
        if replaced is not None:
            shutil.rmtree(replaced, ignore_errors=True)
        prune_checkpoints(output_dir, total_limit)
        _remove_interrupted_saves(output_dir)
        logger.info(f"Saved the training state to {final}")
    accelerator.wait_for_everyone()
    return final


def non_finite_parameters(module: torch.nn.Module) -> list[str]:
    """Names of the parameters and buffers of `module` holding a NaN or an infinity (empty when all are finite)."""
    tensors = [*module.named_parameters(), *module.named_buffers()]
    return [name for name, tensor in tensors if tensor.is_floating_point() and not torch.isfinite(tensor).all()]
