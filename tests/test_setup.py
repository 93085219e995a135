"""setup.py declares exactly the third-party packages that the package and its examples import."""

import ast
import pathlib
import re
import sys


ROOT = pathlib.Path(__file__).resolve().parents[1]
# Import name -> distribution name, where they differ.
DISTRIBUTIONS = {"PIL": "Pillow", "sklearn": "scikit-learn", "huggingface_hub": "huggingface-hub"}
# Loaded by name rather than imported: accelerate starts the training script's default tracker.
LOADED_BY_NAME = {"tensorboard"}
# Imported only when the user picks them (`--report_to wandb`); not a requirement.
OPTIONAL = {"wandb"}


def _requirements(key: str, extra: str = "test") -> set[str]:
    tree = ast.parse((ROOT / "setup.py").read_text())
    call = next(
        node for node in ast.walk(tree) if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "setup"
    )
    value = next(keyword.value for keyword in call.keywords if keyword.arg == key)
    if isinstance(value, ast.Dict):
        value = value.values[[k.value for k in value.keys].index(extra)]
    return {re.split(r"[<>=!\[ ]", ast.literal_eval(item))[0] for item in value.elts}


def _third_party_imports(paths) -> set[str]:
    names = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names.add(node.module.split(".")[0])
    # The example scripts' own helper modules (examples/*.py imported by name, with examples/ on sys.path).
    local = {path.stem for path in (ROOT / "examples").glob("*.py")}
    names -= set(sys.stdlib_module_names) | {"diffusers_symmflow", "__future__"} | local
    return {DISTRIBUTIONS.get(name, name) for name in names}


def test_install_requires_is_what_the_package_and_examples_import():
    used = _third_party_imports([*(ROOT / "src").rglob("*.py"), *(ROOT / "examples").glob("*.py")]) - OPTIONAL
    # The demo app's own dependency is the `demo` extra, not a requirement of the package.
    used -= _requirements("extras_require", extra="demo")
    declared = _requirements("install_requires")
    assert used - declared == set(), "imported but not declared"
    assert declared - used == LOADED_BY_NAME, "declared but never imported"


def test_test_extras_cover_what_only_the_tests_import():
    test_files = list((ROOT / "tests").rglob("*.py"))
    local_modules = {path.stem for path in test_files}  # e.g. `from testing_utils import ...`
    used = _third_party_imports(test_files) - _requirements("install_requires") - local_modules
    assert used <= _requirements("extras_require")
