# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""The lock that keeps a second training run out of an output directory in use.

Two runs in one directory would delete each other's checkpoints (each removes the other's interrupted-looking
temporary saves, see `checkpointing.py`) and overwrite each other's pipeline; `lock_output_dir` refuses the second one
at once, naming the process that holds the directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time


OUTPUT_DIR_LOCK = ".symmflow-train.lock"
# Beside the lock: who holds it, so that a refused run can name the process.
OUTPUT_DIR_LOCK_HOLDER = ".symmflow-train.lock.holder.json"


class OutputDirLockedError(RuntimeError):
    """Another training run holds the output directory (see `lock_output_dir`)."""


class OutputDirLock:
    """The held lock of `lock_output_dir`; `release()` frees the directory for the next run."""

    def __init__(self, lock, holder_file: str):
        self._lock, self._holder_file = lock, holder_file

    def release(self) -> None:
        # The holder record goes first: once the lock is free, the next run writes its own.
        with contextlib.suppress(OSError):
            os.remove(self._holder_file)
        self._lock.release()


def _lock_holder(output_dir: str) -> str:
    try:
        with open(os.path.join(output_dir, OUTPUT_DIR_LOCK_HOLDER), encoding="utf-8") as file:
            holder = json.load(file)
        return f"process {holder['pid']} on {holder['host']} (since {holder['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process (it has not said which)"


def lock_output_dir(accelerator, output_dir: str):
    """Lock `output_dir` for this training run, or raise at once if another run holds it; call it on every process.

    The main process creates `output_dir`, takes an exclusive `filelock.FileLock` on `OUTPUT_DIR_LOCK` in it (held
    until `.release()` or the process ends, even by a kill) and records its PID and host beside it, so a refused run
    can name the holder. Two runs in one directory would delete each other's checkpoints (each removes the other's
    interrupted-looking temporary saves) and overwrite each other's pipeline.

    Args:
        accelerator (`accelerate.Accelerator`): every process learns whether the main process got the lock.
        output_dir (`str`): the training output directory.

    Returns:
        `OutputDirLock` on the main process (call its `release()` when the run ends), `None` on the others.

    Raises:
        OutputDirLockedError: on every process, if another run holds the lock; the message names the directory and
            the holder.
    """
    from accelerate.utils import broadcast_object_list
    from filelock import FileLock, Timeout

    lock, refusal = None, [None]
    if accelerator.is_main_process:
        os.makedirs(output_dir, exist_ok=True)
        lock = FileLock(os.path.join(output_dir, OUTPUT_DIR_LOCK))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            refusal = [
                (
                    f"The output directory {os.path.abspath(output_dir)} is in use by another training run: "
                    f"{_lock_holder(output_dir)} holds {os.path.join(output_dir, OUTPUT_DIR_LOCK)}. Two runs in one "
                    "directory delete each other's checkpoints; wait for it to finish, stop it, or choose another "
                    "output directory."
                )
            ]
        else:
            holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
            holder_file = os.path.join(output_dir, OUTPUT_DIR_LOCK_HOLDER)
            with open(holder_file, "w", encoding="utf-8") as file:
                json.dump(holder, file)
            lock = OutputDirLock(lock, holder_file)
    if accelerator.num_processes > 1:
        refusal = broadcast_object_list(refusal)
    if refusal[0] is not None:
        raise OutputDirLockedError(refusal[0])
    return lock
