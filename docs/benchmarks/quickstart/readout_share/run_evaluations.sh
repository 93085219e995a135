#!/usr/bin/env bash
# Waits for the quickstart batch, then: classification quickstart with the readout share (default now) + its eval,
# and the generation scores of the segmentation quickstarts with and without it.
while pgrep -f "qs/rp0.75" > /dev/null || pgrep -f "qs/rp0.25" > /dev/null; do sleep 10; done
export HF_HUB_OFFLINE=1
mkdir -p /tmp/clsrp && cd /tmp/clsrp
/usr/bin/time -f "%e s wall" python /work/main/examples/train_symmflow.py --task classification --output_dir /tmp/clsrp/model --report_to none --readout_probability 0.5 > train.log 2>&1
python /work/main/examples/evaluate_symmflow.py --pipeline /tmp/clsrp/model --task classification --max_eval_samples 500 \
  --steps 1 5 25 --sampling_modes joint --generation_steps 25 --num_generated 300 --output_dir /tmp/clsrp/eval --no_progress > eval.log 2>&1
echo "clsrp done" >> /tmp/queue2_progress.txt
for name in rp0.5 rp0; do
  python /work/main/examples/evaluate_symmflow.py --pipeline /tmp/qs/$name --max_eval_samples 500 \
    --steps 1 --sampling_modes joint --generation_steps 25 --num_generated 300 --output_dir /tmp/qs/eval_$name --no_progress > /tmp/qs/eval_$name.log 2>&1
  echo "seg $name done" >> /tmp/queue2_progress.txt
done
#!/usr/bin/env bash
# Quickstart (classification and segmentation) with the readout samples out of the image loss (the new default).
export HF_HUB_OFFLINE=1
mkdir -p /tmp/q3 && cd /tmp/q3
train() {  # NAME FLAGS...
  local name=$1; shift
  OMP_NUM_THREADS=1 /usr/bin/time -f "%e s wall" python /work/main/examples/train_symmflow.py --output_dir /tmp/q3/$name \
    --report_to none --validation_steps 100000 "$@" > /tmp/q3/$name.log 2>&1
}
train cls_rp0.5_masked --task classification & train seg_rp0.5_masked & wait
echo "trained" >> /tmp/q3/progress.txt
OMP_NUM_THREADS=1 python /work/main/examples/evaluate_symmflow.py --pipeline /tmp/q3/cls_rp0.5_masked --task classification --max_eval_samples 500 \
  --steps 1 5 25 --sampling_modes joint --generation_steps 25 --num_generated 300 --output_dir /tmp/q3/eval_cls_rp0.5_masked --no_progress > /tmp/q3/eval_cls.log 2>&1 &
OMP_NUM_THREADS=1 python /work/main/examples/evaluate_symmflow.py --pipeline /tmp/q3/seg_rp0.5_masked --max_eval_samples 500 \
  --steps 1 --sampling_modes joint --generation_steps 25 --num_generated 300 --output_dir /tmp/q3/eval_seg_rp0.5_masked --no_progress > /tmp/q3/eval_seg.log 2>&1 &
wait
echo "evaluated" >> /tmp/q3/progress.txt
