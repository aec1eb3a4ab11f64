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


def _readme_tree() -> set[str]:
    """The module paths README's Development tree names, read from its indentation (two spaces a level):
    each line starts with a folder (`core/`) or one or more modules (`plan.py`), then says what they hold."""
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Development", 1)[1].split("```", 2)[1]
    paths: set[str] = set()
    folders: list[str] = []
    for line in block.splitlines()[2:]:  # the fence's newline, then `reconciler/` itself
        del folders[(len(line) - len(line.lstrip())) // 2 - 1 :]
        for name in line.split():
            if name.endswith("/"):
                folders.append(name)
            elif name.endswith(".py"):
                paths.add("".join(folders) + name)
            else:
                break
    return paths


def test_readme_names_every_module_where_it_is() -> None:
    modules = {
        str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if p.name not in ("__init__.py", "__main__.py")
    }
    assert _readme_tree() == modules
