"""examples/train_symmflow.py on two processes: `torchrun --nproc_per_node 2` on CPU (gloo), DDP through accelerate.

One launch runs three trainings (tests/examples/distributed_train_worker.py records what each process saw and did):

1. a label-time model (`--label_time mixed`, the DDP crash's path) on the default data (the bundled MNIST digits,
   map-style), with EMA and a checkpoint;
2. a resume of 1 from its two-process checkpoint, one step further;
3. the paper's `--label_time diagonal` on streamed data (a local parquet file).
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest


WORKER = os.path.join(os.path.dirname(__file__), "distributed_train_worker.py")
TINY = [
    "--unet_config",
    "tiny",
    "--resolution",
    "16",
    "--eval_batch_size",
    "16",
    "--max_eval_samples",
    "16",
    "--num_validation_images",
    "2",
    "--validation_inference_steps",
    "2",
    "--report_to",
    "none",
    "--lr_warmup_steps",
    "1",
    "--validation_steps",
    "100",
    "--train_batch_size",
    "8",
]


def write_parquet(path, count: int = 48, size: int = 16) -> None:
    import datasets

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(count, size, size, 3), dtype=np.uint8)
    masks = rng.integers(0, 3, size=(count, size, size), dtype=np.uint8)
    datasets.Dataset.from_dict({"image": list(images), "mask": [mask.tolist() for mask in masks]}).to_parquet(path)


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("distributed")
    write_parquet(str(tmp / "train.parquet"))
    default_flags = [
        *TINY,
        "--label_time",
        "mixed",
        "--max_train_samples",
        "64",
        "--output_dir",
        str(tmp / "mixed"),
        "--use_ema",
        "--checkpointing_steps",
        "2",
    ]
    runs = [
        {"name": "mixed", "flags": [*default_flags, "--max_train_steps", "3"]},
        {
            "name": "resumed",
            "flags": [*default_flags, "--max_train_steps", "4", "--resume_from_checkpoint", "checkpoint-2"],
        },
        {
            "name": "diagonal_streaming",
            "flags": [
                *TINY,
                "--label_time",
                "diagonal",
                "--dataset_name",
                str(tmp / "train.parquet"),
                "--num_classes",
                "3",
                "--streaming",
                "--validation_split",
                "8",
                "--output_dir",
                str(tmp / "diagonal"),
                "--max_train_steps",
                "2",
                "--checkpointing_steps",
                "2",
            ],
        },
    ]
    (tmp / "runs.json").write_text(json.dumps(runs))
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        WORKER,
        str(tmp / "runs.json"),
        str(tmp / "records"),
    ]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-6000:]
    ranks = [json.loads((tmp / "records" / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    return tmp, ranks


@pytest.mark.parametrize("run", ["mixed", "resumed", "diagonal_streaming"])
def test_ranks_end_with_identical_weights(records, run):
    _, ranks = records
    assert ranks[0][run]["weights"] == ranks[1][run]["weights"]


@pytest.mark.parametrize("run", ["mixed", "diagonal_streaming"])
def test_ranks_train_on_disjoint_shards(records, run):
    _, ranks = records
    seen = [rank[run]["examples"] for rank in ranks]
    steps = ranks[0][run]["global_step"]
    assert len(seen[0]) == len(seen[1]) == 8 * steps
    assert len(set(seen[0])) == len(seen[0]) and not set(seen[0]) & set(seen[1])


@pytest.mark.parametrize("run", ["mixed", "resumed", "diagonal_streaming"])
def test_logged_loss_is_the_mean_over_ranks(records, run):
    _, ranks = records
    logged = ranks[0][run]["logged_losses"]
    assert logged == ranks[1][run]["logged_losses"] and len(logged) == len(ranks[0][run]["local_losses"])
    for step, (loss0, loss1) in zip(
        sorted(logged, key=int), zip(ranks[0][run]["local_losses"], ranks[1][run]["local_losses"])
    ):
        assert logged[step] == pytest.approx((loss0 + loss1) / 2, rel=1e-5)


def test_only_the_main_process_writes_outputs(records):
    tmp, ranks = records
    for run in ("mixed", "resumed", "diagonal_streaming"):
        main_writes = ranks[0][run]["writes"]
        assert {"README.md", "model_index.json", "unet/config.json"} <= set(main_writes)
        assert any(path.endswith("/symmflow_checkpoint.json") for path in main_writes)
        # The files Python writes (pipeline configs, model card, checkpoint marker); tensors are written natively,
        # and each process's own RNG / noise state goes into the checkpoint by design (checked below).
        assert ranks[1][run]["writes"] == []
    checkpoint = tmp / "mixed" / "checkpoint-2"
    assert (checkpoint / "symmflow_process_state_1.safetensors").is_file()
    assert (checkpoint / "random_states_1.pkl").is_file()
    assert json.loads((checkpoint / "symmflow_checkpoint.json").read_text())["num_processes"] == 2


def test_resume_from_a_two_process_checkpoint_continues_the_run(records):
    tmp, ranks = records
    straight, resumed = ranks[0]["mixed"], ranks[0]["resumed"]
    assert resumed["global_step"] == 4 and sorted(resumed["logged_losses"]) == ["3", "4"]
    # Step 3 replayed from checkpoint-2: same weights, optimizer, EMA, data shard and noise on both processes.
    assert resumed["logged_losses"]["3"] == pytest.approx(straight["logged_losses"]["3"], rel=1e-6)
    for rank in ranks:
        assert rank["resumed"]["examples"][:8] == rank["mixed"]["examples"][16:24]
    assert (tmp / "mixed" / "checkpoint-4").is_dir()
