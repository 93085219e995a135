"""One process of the two-process test of examples/train_symmflow.py (launched by `torchrun`; not collected by pytest).

    torchrun --nproc_per_node 2 distributed_train_worker.py RUNS_JSON RECORD_DIR

RUNS_JSON is a list of `{"name", "flags"}`: each run calls the training script's `main(flags)` in turn, in one
launch (starting the interpreters dominates the test's time), sharing the process group. Per run, each process
records, with no change to the script itself:

* `examples`: a fingerprint of every clean training image it trained on (from `SymmFlowObjective.prepare`);
* `local_losses`: the loss it computed at each step before any reduction (from `SymmFlowObjective.loss`);
* `logged_losses`: the per-step losses `main` returns (what it logs);
* `weights`: a hash of the trained UNet's weights at the end of training;
* `writes`: the files it opened for writing or renamed under the run's `--output_dir` (a Python audit hook; files
  written by native code, e.g. safetensors, are not seen).

and writes them to RECORD_DIR/rank<R>.json.
"""

import hashlib
import importlib.util
import json
import os
import sys

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState, GradientState


EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "train_symmflow.py")


def fingerprint(tensor: torch.Tensor) -> str:
    return hashlib.sha1((tensor.detach().float() * 1000).round().to(torch.int64).numpy().tobytes()).hexdigest()[:16]


def main(runs_json: str, record_dir: str) -> None:
    spec = importlib.util.spec_from_file_location("train_symmflow", EXAMPLE)
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    runs = json.loads(open(runs_json, encoding="utf-8").read())
    records, current = {}, {}

    def audit(event, args):
        if not current:
            return
        if event == "open" and isinstance(args[0], str):
            path, mode, flags = args
            writing = any(c in mode for c in "wax+") if mode else bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
        elif event == "os.rename" and isinstance(args[1], str):
            path, writing = args[1], True
        else:
            return
        root = os.path.abspath(current["output_dir"])
        path = os.path.abspath(path)
        if writing and path.startswith(root + os.sep):
            current["writes"].add(os.path.relpath(path, root))

    sys.addaudithook(audit)

    real_make_objective = train.make_objective

    def recording_objective(args):
        objective = real_make_objective(args)
        prepare, loss = objective.prepare, objective.loss

        def recording_prepare(images, *rest, **kwargs):
            if current:
                current["examples"] += [fingerprint(image) for image in images]
            return prepare(images, *rest, **kwargs)

        def recording_loss(*rest, **kwargs):
            output = loss(*rest, **kwargs)
            if current:
                current["local_losses"].append(output.loss.item())
            return output

        objective.prepare, objective.loss = recording_prepare, recording_loss
        return objective

    class RecordingAccelerator(Accelerator):
        def end_training(self):
            # Hash the trained weights; keep the process group for the next run (the base class destroys it).
            state = self.unwrap_model(self._models[0]).state_dict()
            digest = hashlib.sha1()
            for key in sorted(state):
                digest.update(key.encode())
                digest.update(state[key].detach().float().numpy().tobytes())
            current["weights"] = digest.hexdigest()
            for tracker in self.trackers:
                tracker.finish()

    train.make_objective = recording_objective
    train.Accelerator = RecordingAccelerator
    for run in runs:
        flags = run["flags"]
        current.clear()
        current.update(output_dir=flags[flags.index("--output_dir") + 1], writes=set(), examples=[], local_losses=[])
        result = train.main(flags)
        records[run["name"]] = {
            "examples": current["examples"],
            "local_losses": current["local_losses"],
            "logged_losses": {str(step): loss for step, loss in result["losses"].items()},
            "global_step": result["global_step"],
            "weights": current["weights"],
            "writes": sorted(current["writes"]),
        }
        current.clear()
        AcceleratorState._reset_state()  # keeps the process group (PartialState) for the next run
        GradientState._reset_state()

    rank = int(os.environ["RANK"])
    os.makedirs(record_dir, exist_ok=True)
    with open(os.path.join(record_dir, f"rank{rank}.json"), "w", encoding="utf-8") as file:
        json.dump(records, file)
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:3])
