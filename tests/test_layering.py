"""The import direction core <- train <- app, and no Qt below the app, hold for every module."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "core": {"train", "app", "PySide6", "pyqtgraph", "OpenGL"},
    "train": {"app", "PySide6", "pyqtgraph", "OpenGL"},
}


def _imported_top_level_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_does_not_import_upper_layers(package):
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = _imported_top_level_names(path) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not offenders, "layering broken:\n" + "\n".join(offenders)


def test_layer_checker_detects_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import numpy\nfrom PySide6.QtCore import QObject\n")
    assert "PySide6" in _imported_top_level_names(bad)


def test_import_linter_contracts_are_kept():
    """import-linter's contracts in pyproject.toml also catch indirect (transitive) imports."""
    import shutil
    import subprocess

    exe = shutil.which("lint-imports")
    if exe is None:
        pytest.skip("import-linter is not installed")
    result = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports by absolute name, ``if TYPE_CHECKING:`` blocks included."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_widgets_are_given_what_they_show_not_the_session_or_the_window():
    """Widgets, the walk player, the Train dialog and the menu builder get state objects and
    request bundles (``app.edits``); none imports the session or the window, not even for types,
    so the window -> menus and window -> widgets imports are the only direction."""
    parts = sorted((ROOT / "app" / "widgets").rglob("*.py")) + [
        ROOT / "app" / name for name in ("menus.py", "walk_player.py", "training_dialog.py")]
    offenders = [f"{path.relative_to(ROOT)} imports {sorted(bad)}" for path in parts
                 if (bad := _imported_modules(path) & {"app.session", "app.main_window"})]
    assert not offenders, "\n".join(offenders)


def _linear_algebra_in(path: Path) -> list[str]:
    """Matrix products (``@``) and ``linalg`` / ``einsum`` / ``dot`` calls in a file, as 'line: what'."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            found.append(f"{node.lineno}: @")
        elif isinstance(node, ast.Attribute) and node.attr in {"linalg", "einsum", "dot", "matmul"}:
            found.append(f"{node.lineno}: {node.attr}")
    return found


def test_widgets_do_no_tensor_math():
    """Qt widgets only observe app state and forward input; tensor and matrix work lives below
    them (``app.view_link`` holds the viewport's projection maths).

    (Constants such as the skeleton's bone list may come from ``core``.)
    """
    offenders = []
    for path in sorted((ROOT / "app" / "widgets").rglob("*.py")):
        bad = _imported_top_level_names(path) & {"torch"}
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
        offenders += [f"{path.relative_to(ROOT)}:{where}" for where in _linear_algebra_in(path)]
    assert not offenders, "widgets doing model work:\n" + "\n".join(offenders)


def test_the_widget_checker_finds_matrix_maths(tmp_path):
    widget = tmp_path / "widget.py"
    widget.write_text("import numpy as np\nx = np.eye(2) @ np.ones(2)\ny = np.linalg.inv(np.eye(2))\n")
    assert _linear_algebra_in(widget) == ["2: @", "3: linalg"]
