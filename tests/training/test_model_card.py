"""The model card of a trained pipeline and pushing it to the Hub."""

from diffusers_symmflow.training import model_card
from diffusers_symmflow.training.model_card import make_model_card


def test_model_card_states_modes_metrics_and_hyperparameters():
    common = {
        "task": "segmentation",
        "dataset_description": "MNIST digits.",
        "label_encoding": "onehot",
        "num_classes": 11,
        "class_names": None,
        "hyperparameters": {"learning_rate": 0.002, "label_time": "mixed"},
        "training": {"optimisation steps": 300},
    }
    card = make_model_card(
        sampling_modes=["joint", "conditional"],
        metrics={"mean_iou": 0.61234, "pixel_accuracy": 0.9},
        metrics_step=300,
        repo_id="me/symmflow-mnist",
        sample_image="samples.png",
        **common,
    )
    text = str(card)
    assert card.data.pipeline_tag == "image-segmentation" and card.data.library_name == "diffusers"
    assert "`joint`, `conditional`" in text and "| mIoU | 0.6123 |" in text and "step 300" in text
    assert "| `--learning_rate` | 0.002 |" in text and 'from_pretrained("me/symmflow-mnist")' in text
    assert "![samples](samples.png)" in text and "MNIST digits." in text
    joint_only = str(make_model_card(sampling_modes=["joint"], **common))
    assert "`joint` (the paper's ODE) only" in joint_only and "No validation was run." in joint_only


HOSTILE_NAMES = ["cat", "a\n---\n# Injected heading", "b | c", "<script>alert(1)</script>", "`code` *bold* [x](y)"]


def test_model_card_shows_hostile_class_names_and_values_as_text():
    from huggingface_hub import ModelCard

    hostile_id = "me/x\n---\nlicense: mit"
    card = make_model_card(
        task="segmentation",
        dataset_description="Stripes\n# Injected",
        label_encoding="onehot",
        num_classes=5,
        class_names=HOSTILE_NAMES,
        sampling_modes=["joint"],
        hyperparameters={"unet_config": "my\n## config|x.json"},
        training={"steps": 3},
        dataset_id=hostile_id,
        base_model=hostile_id,
        repo_id='me/"x"\n# y',
    )
    text = str(card)
    body = text.split("\n---\n", 1)[1]
    # Only the card's own headings, one table row per hyper-parameter, no HTML and no front matter rule in the body.
    assert [line for line in body.splitlines() if line.startswith("#")] == [
        "# SymmFlow segmentation model",
        "## Usage",
        "## Validation",
        "## Training",
        "### Hyper-parameters",
    ]
    assert "<script>" not in text.split("\n---\n", 1)[1] and "\\<script\\>alert(1)\\</script\\>" in body
    assert "---" not in body.splitlines()
    task_line = next(line for line in body.splitlines() if line.startswith("- **Task**"))
    assert task_line == (
        "- **Task**: segmentation, 5 classes (cat, a --- \\# Injected heading, b \\| c, "
        "\\<script\\>alert(1)\\</script\\>, \\`code\\` \\*bold\\* \\[x\\](y))"
    )
    assert "| `--unet_config` | my \\#\\# config\\|x.json |" in body
    assert "- **Dataset**: Stripes # Injected" in body
    assert 'SymmFlowPipeline.from_pretrained("me/\\"x\\"\\n# y")' in body  # a Python string, on its line
    # The YAML front matter survives: yaml quotes what it holds, and the card reads back what was written.
    data = ModelCard(text).data
    assert data.datasets == [hostile_id] and data.base_model == hostile_id
    assert data.pipeline_tag == "image-segmentation" and data.license == "apache-2.0"


def test_model_card_loading_code_runs_through_plain_diffusers(tmp_path, tiny_pixel_unet):
    """The card's first code block, pointed at a saved pipeline, loads it with `DiffusionPipeline`."""
    import re

    from diffusers_symmflow import SymmFlowPipeline, SymmFlowScheduler

    SymmFlowPipeline(
        unet=tiny_pixel_unet(image_channels=1, label_channels=3), scheduler=SymmFlowScheduler(), num_classes=3
    ).save_pretrained(tmp_path / "pipe")
    card = str(
        make_model_card(
            task="segmentation",
            dataset_description="stripes",
            label_encoding="onehot",
            num_classes=3,
            class_names=None,
            sampling_modes=["joint", "conditional"],
            hyperparameters={},
            training={},
            repo_id="me/model",
        )
    )
    first_block = re.search(r"```python\n(.*?)```", card, flags=re.DOTALL).group(1)
    assert 'DiffusionPipeline.from_pretrained("me/model", trust_remote_code=True)' in first_block
    loading = "\n".join(line for line in first_block.splitlines() if not line.startswith(("out =", "generated =")))
    namespace = {}
    exec(loading.replace("me/model", str(tmp_path / "pipe")), namespace)
    assert type(namespace["pipe"]) is SymmFlowPipeline


def test_push_to_hub_uploads_the_pipeline_without_checkpoints(tmp_path, monkeypatch):
    import huggingface_hub

    calls = {}

    class FakeApi:
        def __init__(self, token=None):
            calls["token"] = token

        def create_repo(self, repo_id, private=False, exist_ok=False):
            calls["create_repo"] = (repo_id, private, exist_ok)
            return f"https://huggingface.co/{repo_id}"

        def upload_folder(self, **kwargs):
            calls["upload_folder"] = kwargs

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    url = model_card.push_to_hub(str(tmp_path), "me/model", token="secret", private=True)
    assert url == "https://huggingface.co/me/model"
    assert calls["create_repo"] == ("me/model", True, True) and calls["token"] == "secret"
    assert calls["upload_folder"]["folder_path"] == str(tmp_path)
    assert "checkpoint-*" in calls["upload_folder"]["ignore_patterns"]
