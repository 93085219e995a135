"""Collect the ablation's per-run `toy_results.json` files into one compact results file.

Usage: python examples/research_projects/two_spirals/collect.py RUNS_DIR OUTPUT_JSON
"""

import json
import os
import sys


def main(runs_dir: str, output: str) -> None:
    rows = {}
    for name in sorted(os.listdir(runs_dir)):
        path = os.path.join(runs_dir, name, "toy_results.json")
        if not os.path.isfile(path):
            continue
        with open(path) as handle:
            result = json.load(handle)
        # Keys are strings in JSON; each value is [mean, min, max] over the run's seeds (one seed here).
        rows[name] = {
            "command": result["command"],
            "classification": {n: v[0] for n, v in result["classification"]["diagonal/joint"].items()},
            "generation": {n: v[0] for n, v in result["generation"]["diagonal/joint"].items()},
            "seconds": round(result["seconds"]),
        }
    with open(output, "w") as handle:
        json.dump(rows, handle, indent=1)
    print(f"{len(rows)} runs -> {output}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
