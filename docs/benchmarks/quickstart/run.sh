#!/bin/bash
# usage: run.sh NAME [flags]  -> /tmp/qs/NAME.log, final line in /tmp/qs/results.txt
name=$1; shift
cd /tmp/qs
start=$(date +%s)
OMP_NUM_THREADS=${THREADS:-1} HF_HUB_OFFLINE=1 python /work/main/examples/train_symmflow.py --output_dir /tmp/qs/$name --report_to none --validation_steps 100000 "$@" > /tmp/qs/$name.log 2>&1
end=$(date +%s)
echo "$name [$*] wall=$((end-start))s :: $(grep -o 'Saved the SymmFlow.*' /tmp/qs/$name.log)" >> /tmp/qs/results.txt
