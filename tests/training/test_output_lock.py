"""The output-directory lock: a second run is refused at once, naming the holder."""

import os

import pytest

from diffusers_symmflow.training.output_lock import OUTPUT_DIR_LOCK, OutputDirLockedError, lock_output_dir


def test_lock_output_dir_refuses_a_second_run_naming_the_holder(tmp_path, accelerator):
    from filelock import FileLock

    accelerator, _ = accelerator
    output_dir = tmp_path / "out"
    lock = lock_output_dir(accelerator, str(output_dir))
    with pytest.raises(OutputDirLockedError, match=rf"{output_dir} is in use .*process {os.getpid()} on "):
        lock_output_dir(accelerator, str(output_dir))
    lock.release()
    assert not (output_dir / ".symmflow-train.lock.holder.json").exists()
    lock_output_dir(accelerator, str(output_dir)).release()  # free again
    # Held by something that did not say who it is.
    with FileLock(str(output_dir / OUTPUT_DIR_LOCK)):
        with pytest.raises(OutputDirLockedError, match="another process .it has not said which"):
            lock_output_dir(accelerator, str(output_dir))
