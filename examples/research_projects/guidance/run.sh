#!/bin/bash
# The guidance study: the README's main job and the classification quickstart, each with the default (diagonal) and
# with --label_time mixed, trained then scored by evaluate_symmflow.py (500 held-out digits, 1-step readout; 300
# digits generated at 25 steps, at guidance 1 / 1.5 / 2 / 3 / 5 for the label-time models). Run it as one sequential
# chain under the machine-wide CPU lock: `flock /tmp/cpu.lock examples/research_projects/guidance/run.sh`.
# Each entry: name|task|training flags|evaluation flags|seed. One thread each.
cd "$(dirname "$0")/../../.."  # the repository root
mkdir -p /tmp/gs
export HF_HUB_OFFLINE=1 PYTHONPATH=src OMP_NUM_THREADS=1
GUIDED="--guidance_scales 1 1.5 2 3 5"
one() {
  IFS='|' read -r name task flags evalflags seed <<< "$1"
  if [ ! -f /tmp/gs/$name/model_index.json ]; then
    s=$(date +%s)
    accelerate launch examples/train_symmflow.py --task $task $flags --seed $seed --num_cpu_threads 1 --output_dir /tmp/gs/$name > /tmp/gs/$name.train.log 2>&1
    echo "$name train rc=$? wall_s=$(($(date +%s)-s)) :: $(grep -o 'Saved the SymmFlow.*' /tmp/gs/$name.train.log)" >> /tmp/gs/results.txt
  fi
  if [ ! -f /tmp/gs/$name-eval/results.json ]; then
    s=$(date +%s)
    python examples/evaluate_symmflow.py --pipeline /tmp/gs/$name --task $task --max_eval_samples 500 --steps 1 --sampling_modes default --generation_steps 25 --num_generated 300 $evalflags --output_dir /tmp/gs/$name-eval --no_progress > /tmp/gs/$name.eval.log 2>&1
    echo "$name eval rc=$? wall_s=$(($(date +%s)-s))" >> /tmp/gs/results.txt
  fi
}
one "seg_mixed|segmentation|--label_time mixed|$GUIDED|0"
one "cls_mixed|classification|--label_time mixed|$GUIDED|0"
one "cls_diag|classification|||0"
one "seg_diag|segmentation|||0"
echo ALLDONE >> /tmp/gs/results.txt
one "seg_mixed_s1|segmentation|--label_time mixed|--guidance_scales 1 2|1"
one "seg_diag_s1|segmentation|||1"
one "cls_mixed_s1|classification|--label_time mixed|--guidance_scales 1 2|1"
one "cls_diag_s1|classification|||1"
echo SEEDSDONE >> /tmp/gs/results.txt
