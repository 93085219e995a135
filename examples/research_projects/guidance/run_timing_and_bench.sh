#!/bin/bash
# After the seeds: the README's main job timed as the README runs it (both cores, accelerate's single process),
# with --label_time mixed and with the default, back to back; then BENCHMARKS section 2 on the default
# classification model (and on the label-time one). One hold of the CPU lock.
cd "$(dirname "$0")/../../.."  # the repository root
mkdir -p /tmp/gs
export HF_HUB_OFFLINE=1 PYTHONPATH=src
unset OMP_NUM_THREADS
for lt in mixed diagonal; do
  s=$(date +%s.%N)
  accelerate launch examples/train_symmflow.py --label_time $lt --output_dir /tmp/gs/time_$lt > /tmp/gs/time_$lt.log 2>&1
  rc=$?
  echo "time_$lt rc=$rc wall_s=$(echo "$(date +%s.%N) - $s" | bc) load=$(cut -d' ' -f1-3 /proc/loadavg) :: $(grep -o 'Saved the SymmFlow.*' /tmp/gs/time_$lt.log)" >> /tmp/gs/timing.txt
done
for m in cls_diag cls_mixed; do
  python benchmarks/bench_diffusion_classifier.py --pipeline /tmp/gs/$m --task classification --num_images 200 --trials 1 4 16 --threads 2 > /tmp/gs/bench_dc_$m.txt 2>&1
  echo "bench_dc $m rc=$?" >> /tmp/gs/timing.txt
done
echo AFTERDONE >> /tmp/gs/timing.txt
