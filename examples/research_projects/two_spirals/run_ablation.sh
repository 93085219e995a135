#!/usr/bin/env bash
# One change at a time between the authors' toy (examples/toy_two_spirals.py's default) and this project's earlier
# toy (--setting project): which setting decides whether the paper's Table 1 and Figure 4 come out. The paper's model
# only (--configs diagonal), one seed each; every run writes toy_results.{md,json} under $OUT/<name>.
# Run from the repository root: bash examples/research_projects/two_spirals/run_ablation.sh [OUT]
set -euo pipefail
OUT=${1:-two-spirals-ablation}
TOY="python examples/toy_two_spirals.py --configs diagonal --seeds 0"
run() { name=$1; shift; echo "== $name: $*"; $TOY --output_dir "$OUT/$name" "$@" | tail -n 20; }
run authors
run authors_data-project --data project
run authors_batch-512 --batch_size 512
run authors_lr-2e-3-cosine --learning_rate 2e-3 --lr_schedule cosine
run authors_sigma-min-1e-4 --sigma_min 1e-4
run authors_generation-from-code --generation_label code
run project --setting project
run project_data-authors --setting project --data authors
# Under-fitting probe for generation's class consistency: the authors' setting trained three times as long.
run authors_steps-18000 --num_train_steps 18000
python examples/research_projects/two_spirals/collect.py "$OUT" examples/research_projects/two_spirals/ablation.json
