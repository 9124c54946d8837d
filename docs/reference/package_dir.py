"""mkdocs hook: lay out localchain's sources the way they are imported, for mkdocstrings.

localchain maps top-level folders into the package (``"localchain.agents" = "agents"`` in
pyproject.toml's ``package-dir``). griffe, which reads the sources for mkdocstrings, finds a
package by walking folders, so it would not find ``localchain.agents`` in ``agents/``. This
hook builds ``build/api-src/localchain/`` from symbolic links (the files of ``localchain/``
plus one link per mapped folder) and mkdocs.yml points the Python handler's ``paths`` at it.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
API_SRC = ROOT / "build" / "api-src"


def package_dirs(root: Path = ROOT) -> dict[str, Path]:
    """The ``package-dir`` mapping of pyproject.toml, as absolute folders."""
    with open(root / "pyproject.toml", "rb") as file:
        mapping = tomllib.load(file)["tool"]["setuptools"]["package-dir"]
    return {name: (root / folder).resolve() for name, folder in mapping.items()}


def build_source_tree(target: Path = API_SRC, root: Path = ROOT) -> Path:
    """Link the sources under ``target`` as the import system sees them; returns ``target``.

    Each build makes a fresh folder of links and swaps it in, so a build running at the same
    time never sees half a tree; the tree it replaces is removed.
    """
    mapping = package_dirs(root)
    mapped = {name.split(".", 1)[1]: path for name, path in mapping.items() if "." in name}
    target.mkdir(parents=True, exist_ok=True)
    fresh = target / f".tree-{os.getpid()}"
    if fresh.exists():
        _remove_tree(fresh)
    package = fresh / "localchain"
    package.mkdir(parents=True)
    for entry in mapping["localchain"].iterdir():
        if entry.name not in mapped and entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    for name, path in mapped.items():
        (package / name).symlink_to(path, target_is_directory=True)
    link = target / "localchain"
    old = Path(os.readlink(link)).parent if link.is_symlink() else None
    staged = target / f".localchain-{os.getpid()}"
    staged.unlink(missing_ok=True)
    staged.symlink_to(package.relative_to(target), target_is_directory=True)
    os.replace(staged, link)
    if old is not None and old.name != fresh.name and (target / old).is_dir():
        _remove_tree(target / old)
    return target


def _remove_tree(folder: Path) -> None:
    # A tree is one folder of links: unlink them, never follow one into the sources.
    package = folder / "localchain"
    for entry in package.iterdir():
        entry.unlink()
    package.rmdir()
    folder.rmdir()


def on_config(config: Any) -> Any:
    build_source_tree()
    return config
