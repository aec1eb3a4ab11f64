"""The layout README describes: every module small enough to read at once, each layer where it says."""

from __future__ import annotations

from pathlib import Path

import reconciler

PACKAGE = Path(reconciler.__file__).parent
MAX_LINES = 400


def test_no_module_is_over_400_lines() -> None:
    sizes = {
        str(p.relative_to(PACKAGE)): len(p.read_text(encoding="utf-8").splitlines()) for p in PACKAGE.rglob("*.py")
    }
    assert {name: size for name, size in sizes.items() if size > MAX_LINES} == {}
    assert len(sizes) > 40  # the walk found the package, not an empty directory


def test_the_layers_are_the_packages_readme_names() -> None:
    packages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    assert packages == ["cli", "core", "edges", "sandbox", "usecases"]
    assert sorted(p.name for p in (PACKAGE / "edges").iterdir() if (p / "__init__.py").is_file()) == ["aws", "github"]
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert loose == ["__init__.py", "__main__.py"]
