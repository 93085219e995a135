#!/usr/bin/env bash
# The CPU-scale quality experiment of BENCHMARKS.md on the bundled MNIST digits (offline).
#
#   bash benchmarks/mnist_quality.sh train OUT   # 6 SymmFlow models + the discriminative baseline, 2 at a time
#   bash benchmarks/mnist_quality.sh eval OUT    # evaluate the 6 models (results.json / results.md / plots)
#   bash benchmarks/mnist_quality.sh bench OUT   # Diffusion Classifier protocol; classification by the segmentation models
#   bash benchmarks/mnist_quality.sh collect OUT # one compact OUT/results.json of the reports (what docs/ keeps)
#
# Models: one-hot and the paper's codes (scalar / palette) with the mixed label time, and one-hot with the paper's
# diagonal label time; the diagonal ones have no label time, so their evaluation skips conditional with a note.
# Budget: every model gets the same 6 epochs of the 4,500 training digits at batch 8 (3,378 optimizer steps), one
# CPU thread each, two models side by side on a 2-core machine (about 10 minutes each). The validation split is
# the bundled default's 500 held-out digits.
set -euo pipefail
stage=${1:?train, eval, bench or collect}
out=${2:-mnist-quality}
mkdir -p "$out"
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1
# The paper's label head (velocity, raw label input) and the `small` UNet: what these numbers were measured with,
# before the training script's defaults became the logits head (the readout study's section 1c) and `narrow` (1d).
common=(--num_train_epochs 6 --train_batch_size 8 --learning_rate 2e-3 --lr_warmup_steps 50 --seed 0
        --validation_steps 100000 --checkpointing_steps 100000 --report_to none
        --label_prediction velocity --label_input raw --image_loss_weight 0.9 --unet_config small)

train() {  # NAME TASK ENCODING [EXTRA FLAGS]
  /usr/bin/time -f "%e s wall" python examples/train_symmflow.py --task "$2" --label_encoding "$3" \
    --output_dir "$out/$1" "${common[@]}" "${@:4}" > "$out/$1.log" 2>&1
}

if [ "$stage" = train ]; then
  train cls_onehot classification onehot & train cls_scalar classification scalar & wait
  train seg_onehot segmentation onehot & train seg_palette segmentation palette & wait
  # The paper's training (label time on the diagonal: joint sampling only), same budget.
  train cls_onehot_diag classification onehot --label_time diagonal &
  train seg_onehot_diag segmentation onehot --label_time diagonal & wait
  /usr/bin/time -f "%e s wall" python benchmarks/train_discriminative_baseline.py --task classification \
    --max_train_steps 3375 --train_batch_size 8 --learning_rate 2e-3 --lr_warmup_steps 50 --threads 1 \
    > "$out/baseline.json" 2> "$out/baseline.log"
elif [ "$stage" = eval ]; then
  for name in cls_onehot cls_scalar seg_onehot seg_palette cls_onehot_diag seg_onehot_diag; do
    task=classification; [[ $name == seg_* ]] && task=segmentation
    python examples/evaluate_symmflow.py --pipeline "$out/$name" --task "$task" --max_eval_samples 500 \
      --steps 1 2 5 10 25 --sampling_modes joint conditional --generation_steps 1 5 25 --num_generated 300 \
      --output_dir "$out/eval_$name" --no_progress > "$out/eval_$name.log" 2>&1 &
    [[ $name == cls_scalar || $name == seg_palette || $name == seg_onehot_diag ]] && wait
  done
  wait
elif [ "$stage" = bench ]; then
  for name in cls_onehot cls_scalar; do
    OMP_NUM_THREADS=2 python benchmarks/bench_diffusion_classifier.py --pipeline "$out/$name" --task classification \
      --num_images 200 --trials 1 4 16 > "$out/diffusion_classifier_$name.json"
  done
  for name in seg_onehot seg_palette seg_onehot_diag; do
    python benchmarks/classify_with_segmentation_model.py --pipeline "$out/$name" --background 10 \
      > "$out/classify_with_$name.json"
  done
elif [ "$stage" = collect ]; then
  python benchmarks/collect_results.py "$out" --out "$out/results.json" \
    --description "benchmarks/mnist_quality.sh: evaluate_symmflow.py reports and the baseline's output"
else
  echo "unknown stage $stage: train, eval, bench or collect" >&2; exit 2
fi
