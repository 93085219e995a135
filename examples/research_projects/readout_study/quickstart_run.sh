#!/usr/bin/env bash
# One run of the readout study at the quickstart's budget (README.md, sections 1d-1f): the training script at its
# defaults plus FLAGS, then evaluate_symmflow.py on the 500 held-out digits (1 step) and on 300 digits generated at
# 25 steps. The `one` function of the script that ran section 1f's quickstart rows, with its paths made arguments.
#
#   bash examples/research_projects/readout_study/quickstart_run.sh OUT_DIR NAME TASK [FLAGS...]
#
# Writes OUT_DIR/NAME (the pipeline), OUT_DIR/NAME-eval (results.json / results.md) and appends the training
# script's last line to OUT_DIR/results.txt, the line `benchmarks/collect_results.py` parses. Two threads, as there.
set -euo pipefail
out=${1:?usage: quickstart_run.sh OUT_DIR NAME TASK [FLAGS...]}
name=${2:?NAME}
task=${3:?TASK (segmentation or classification)}
shift 3
mkdir -p "$out"
export HF_HUB_OFFLINE=1 OMP_NUM_THREADS=${THREADS:-2}
start=$(date +%s)
python examples/train_symmflow.py --output_dir "$out/$name" --report_to none --validation_steps 100000 \
  --num_cpu_threads "$OMP_NUM_THREADS" --task "$task" "$@" > "$out/$name.train.log" 2>&1
mid=$(date +%s)
python examples/evaluate_symmflow.py --pipeline "$out/$name" --task "$task" --max_eval_samples 500 --steps 1 \
  --sampling_modes default --generation_steps 25 --num_generated 300 --output_dir "$out/$name-eval" --no_progress \
  > "$out/$name.eval.log" 2>&1
end=$(date +%s)
echo "$name [$task $*] train=$((mid-start))s eval=$((end-mid))s :: $(grep -o 'Saved the SymmFlow.*' "$out/$name.train.log")" \
  >> "$out/results.txt"
