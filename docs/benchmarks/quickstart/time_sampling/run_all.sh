#!/bin/bash
# Quickstart-scale check of logit-normal time sampling toward the generation end (BENCHMARKS 1f), 2 threads, one at a time.
cd /tmp/q5
export HF_HUB_OFFLINE=1 OMP_NUM_THREADS=2
one() {
  name=$1; task=$2; shift 2
  start=$(date +%s)
  python /work/main/examples/train_symmflow.py --output_dir /tmp/q5/$name --report_to none --validation_steps 100000 --num_cpu_threads 2 --task $task "$@" > /tmp/q5/$name.train.log 2>&1
  mid=$(date +%s)
  python /work/main/examples/evaluate_symmflow.py --pipeline /tmp/q5/$name --task $task --max_eval_samples 500 --steps 1 --sampling_modes default --generation_steps 25 --num_generated 300 --output_dir /tmp/q5/$name-eval --no_progress > /tmp/q5/$name.eval.log 2>&1
  end=$(date +%s)
  echo "$name [$task $*] train=$((mid-start))s eval=$((end-mid))s :: $(grep -o 'Saved the SymmFlow.*' /tmp/q5/$name.train.log)" >> /tmp/q5/results.txt
}
one cls_rp0.25_ln-1 classification --readout_probability 0.25 --time_sampling logit_normal --logit_mean -1
one cls_ln-1 classification --time_sampling logit_normal --logit_mean -1
one seg_ln-1 segmentation --time_sampling logit_normal --logit_mean -1
one cls_default classification
one seg_default segmentation
echo ALLDONE >> /tmp/q5/results.txt
