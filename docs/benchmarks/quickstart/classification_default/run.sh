cd /tmp/clsw
export HF_HUB_OFFLINE=1
/usr/bin/time -f "%e s wall" accelerate launch /work/main/examples/train_symmflow.py --task classification --output_dir /tmp/clsw/model --report_to none > train.log 2>&1
python /work/main/examples/evaluate_symmflow.py --pipeline /tmp/clsw/model --task classification --max_eval_samples 500 \
  --steps 1 5 25 --sampling_modes joint --generation_steps 25 --num_generated 300 --output_dir /tmp/clsw/eval --no_progress > eval.log 2>&1
echo done > DONE
