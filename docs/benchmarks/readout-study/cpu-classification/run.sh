cd /work/main
for v in "pooled --mode symmflow --label_param logits_pooled --label_input gated" "logits --mode symmflow --label_param logits --label_input gated" "disc --mode discriminative"; do
  set -- $v; name=$1; shift
  OMP_NUM_THREADS=1 python benchmarks/readout_study.py --task classification --data_cache .gpu/cls.pt --device cpu --batch 32 --lr 1e-3 --steps 300 --eval_steps 100,150,200,250,300 "$@" --out /tmp/cpuq/cls_$name.json > /tmp/cpuq/cls_$name.log 2>&1
done
