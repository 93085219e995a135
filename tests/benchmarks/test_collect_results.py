"""benchmarks/collect_results.py: a folder of per-run outputs -> the one compact results file a study keeps, and the
readout study's plot script reading that file back."""

import importlib.util
import json
import pathlib

import pytest


ROOT = pathlib.Path(__file__).resolve().parents[2]


def load_script(relative_path: str):
    path = ROOT / relative_path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def collect():
    return load_script("benchmarks/collect_results.py")


def curve_run(task, lr, seed, accuracies):
    metric = "accuracy" if task == "classification" else "mean_iou"
    points = [
        {"step": step, "examples": step * 128, "seconds": 3 * step, metric: value}
        for step, value in zip((150, 250, 364), accuracies)
    ]
    points[-1].update(
        generation_steps=25, generation={"joint": {"fid": 1.25, "class_consistency": 0.75, "kid_mean": 0.01}}
    )
    args = {"task": task, "lr": lr, "seed": seed, "batch": 128, "out": f"/tmp/run{seed}.json", "data_cache": "x.pt"}
    return {"args": args, "curve": points}


def evaluation_report():
    scores = {
        "mean_iou": 0.5,
        "pixel_accuracy": 0.9,
        "per_class_iou": [0.25, 0.75],
        "seconds_per_image": 0.01,
        "num_images": 500,
    }
    return {
        "task": "segmentation",
        "settings": {"command": "python examples/evaluate_symmflow.py --pipeline P"},
        "prediction": {"joint": {"1": scores}},
        "generation": {
            "joint": {"25": {"fid": 0.93, "kid_std": 0.004, "class_consistency": 0.933, "lpips_to_real": None}}
        },
        "notes": ["LPIPS not measured"],
    }


def test_a_run_folder_becomes_one_compact_file(collect, tmp_path):
    runs = tmp_path / "round1"
    (runs / "pipeline").mkdir(parents=True)
    (runs / "pipeline" / "model_index.json").write_text("{}")  # a saved pipeline: skipped
    (runs / "pipeline" / "config.json").write_text('{"sample_size": 32}')
    for seed, scores in ((0, (30.0, 60.0, 90.0)), (1, (20.0, 50.0, 80.0))):
        (runs / f"cls_seed{seed}.json").write_text(json.dumps(curve_run("classification", 5e-4, seed, scores)))
    (runs / "cls_seed0.log").write_text("progress\n")
    (runs / "eval").mkdir()
    (runs / "eval" / "results.json").write_text(json.dumps(evaluation_report()))
    (runs / "eval" / "results.md").write_text("# the same numbers\n")
    (runs / "results.txt").write_text(
        "rp0.5 [--readout_probability 0.5] wall=360s :: Saved the SymmFlow pipeline to /tmp/x (step 750, 342 s). "
        "Validation (1-step segmentation): mean_iou 0.7020, pixel_accuracy 0.9754.\n161.80 s wall\n"
    )
    out = tmp_path / "results.json"
    collect.main([str(runs), "--out", str(out), "--description", "test"])

    results = json.loads(out.read_text())
    assert sorted(results["runs"]) == ["cls_seed0", "cls_seed1", "eval/results", "results"]
    # Curves: flags stored once (the most common value), the run keeps what differs; housekeeping dropped.
    assert results["common_args"] == {"batch": 128, "lr": 5e-4, "seed": 0, "task": "classification"}
    run = results["runs"]["cls_seed1"]
    assert run["args"] == {"seed": 1}
    assert run["curve"] == {"step": [150, 250, 364], "accuracy": [20.0, 50.0, 80.0]}
    assert run["generation"] == {"joint": {"fid": 1.25, "class_consistency": 0.75}}
    # Evaluations: scores per mode and steps as summarize_report keeps them (time per image included, missing
    # values and image counts left out); numbers copied exactly.
    evaluation = results["runs"]["eval/results"]
    assert evaluation["command"] == "python examples/evaluate_symmflow.py --pipeline P"
    assert evaluation["prediction"] == {
        "joint": {
            "1": {"mean_iou": 0.5, "pixel_accuracy": 0.9, "per_class_iou": [0.25, 0.75], "seconds_per_image": 0.01}
        }
    }
    assert evaluation["generation"] == {"joint": {"25": {"fid": 0.93, "class_consistency": 0.933}}}
    # Training result lines: parsed where they have the script's form, kept as text otherwise.
    first, second = results["runs"]["results"]["lines"]
    assert (first["name"], first["flags"], first["step"], first["mean_iou"]) == (
        "rp0.5",
        "--readout_probability 0.5",
        750,
        0.702,
    )
    assert second == {"line": "161.80 s wall"}


def test_an_evaluation_kept_only_as_markdown_is_read_from_its_tables(collect):
    text = """# SymmFlow evaluation

- command: python examples/evaluate_symmflow.py --pipeline /tmp/q3/seg

## Segmentation (reverse ODE, t: 1 -> 0) against solver steps

### mIoU (%)

| sampling | 1 step | 5 steps |
|---|---|---|
| joint | 70.20 | 71.50 |

### Seconds per image (model calls)

| sampling | 1 step | 5 steps |
|---|---|---|
| joint | 0.01 | 0.05 |

## Generation (forward ODE, t: 0 -> 1) against solver steps

### Class consistency (%)

| sampling | 25 steps |
|---|---|
| joint | 93.00 |

## Notes

- LPIPS not measured.
"""
    summary = collect.evaluation_from_markdown(text)
    assert summary["command"] == "python examples/evaluate_symmflow.py --pipeline /tmp/q3/seg"
    assert summary["prediction"] == {"mIoU (%)": {"joint": {"1": 70.2, "5": 71.5}}}
    assert summary["generation"] == {"Class consistency (%)": {"joint": {"25": 93.0}}}


def test_the_plot_script_reads_the_kept_curves_back(collect, tmp_path):
    for folder, seed in (("round1", 0), ("round2", 1)):
        (tmp_path / folder).mkdir()
        run = curve_run("classification", 5e-4, seed, (30.0 + seed, 60.0, 90.0))
        (tmp_path / folder / f"cls_seed{seed}.json").write_text(json.dumps(run))
    out = tmp_path / "results.json"
    collect.main([str(tmp_path / "round1"), str(tmp_path / "round2"), "--out", str(out)])
    plot = load_script("examples/research_projects/readout_study/plot_readout_curves.py")

    curves = plot.read_results(str(out), ["round2"])
    assert list(curves) == ["cls_seed1"]
    # The points the per-run file had (examples = steps x batch), as the plot reads them from a run folder.
    assert curves["cls_seed1"] == [
        {"step": 150, "examples": 19200, "accuracy": 31.0},
        {"step": 250, "examples": 32000, "accuracy": 60.0},
        {"step": 364, "examples": 46592, "accuracy": 90.0},
    ]
    assert sorted(plot.read_results(str(out), None)) == ["cls_seed0", "cls_seed1"]
    with pytest.raises(SystemExit, match="No round"):
        plot.read_results(str(out), ["round3"])
