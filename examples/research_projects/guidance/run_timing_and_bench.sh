#!/bin/bash
# Last jobs of the guidance study, in priority order, under one hold of the CPU lock
# (`flock /tmp/cpu.lock examples/research_projects/guidance/run_timing_and_bench.sh`, after run.sh):
# 1. the README's main job with --label_time mixed, timed as the README runs it (accelerate's single process, every core);
# 2. BENCHMARKS section 2 (one classify call vs the Diffusion Classifier at 10/40/160 calls) on the default classification model;
# 3. seed 2 of the two classification quickstart models.
cd "$(dirname "$0")/../../.."  # the repository root
mkdir -p /tmp/gs
export HF_HUB_OFFLINE=1 PYTHONPATH=src
unset OMP_NUM_THREADS
s=$(date +%s.%N)
accelerate launch examples/train_symmflow.py --label_time mixed --output_dir /tmp/gs/time_mixed > /tmp/gs/time_mixed.log 2>&1
echo "time_mixed rc=$? wall_s=$(echo "$(date +%s.%N) - $s" | bc) loadavg_at_end=$(cut -d' ' -f1-3 /proc/loadavg) :: $(grep -o 'Saved the SymmFlow.*' /tmp/gs/time_mixed.log)" >> /tmp/gs/timing.txt
python benchmarks/bench_diffusion_classifier.py --pipeline /tmp/gs/cls_diag --task classification --num_images 200 --trials 1 4 16 --threads 2 > /tmp/gs/bench_dc_cls_diag.txt 2>&1
echo "bench_dc cls_diag rc=$?" >> /tmp/gs/timing.txt
export OMP_NUM_THREADS=1
source <(sed -n '/^one() {/,/^}/p' examples/research_projects/guidance/run.sh)
one "cls_mixed_s2|classification|--label_time mixed|--guidance_scales 1 1.5 2|2"
one "cls_diag_s2|classification|||2"
echo FINALDONE >> /tmp/gs/timing.txt
