"""mkdocs hook: lay out localchain's sources the way they are imported, for mkdocstrings.

localchain maps top-level folders into the package (``"localchain.agents" = "agents"`` in
pyproject.toml's ``package-dir``). griffe, which reads the sources for mkdocstrings, finds a
package by walking folders, so it would not find ``localchain.agents`` in ``agents/``. This
hook builds ``build/api-src/localchain/`` from symbolic links (the files of ``localchain/``
plus one link per mapped folder) and mkdocs.yml points the Python handler's ``paths`` at it.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from pathlib import Path
from typing import Any

from mkdocs.plugins import event_priority

ROOT = Path(__file__).resolve().parents[2]
API_SRC = ROOT / "build" / "api-src"


def package_dirs(root: Path = ROOT) -> dict[str, Path]:
    """The ``package-dir`` mapping of pyproject.toml, as absolute folders."""
    with open(root / "pyproject.toml", "rb") as file:
        mapping = tomllib.load(file)["tool"]["setuptools"]["package-dir"]
    return {name: (root / folder).resolve() for name, folder in mapping.items()}


def build_source_tree(target: Path = API_SRC, root: Path = ROOT) -> Path:
    """Link the sources under ``target`` as the import system sees them; returns ``target``.

    A tree is named by what it links, so builds of the same sources reuse it. A new layout
    (a module added to ``localchain/``) is made aside, then swapped in with one rename, so a
    build running at the same time never sees half a tree.
    """
    mapping = package_dirs(root)
    mapped = {name.split(".", 1)[1]: path for name, path in mapping.items() if "." in name}
    links = {
        entry.name: entry
        for entry in mapping["localchain"].iterdir()
        if entry.name not in mapped and entry.name != "__pycache__"
    }
    links.update(mapped)
    layout = "\n".join(f"{name}={path}" for name, path in sorted(links.items()))
    tree = target / f".tree-{hashlib.sha256(layout.encode()).hexdigest()[:16]}"
    target.mkdir(parents=True, exist_ok=True)
    if not tree.is_dir():
        scratch = target / f".scratch-{os.getpid()}"
        if scratch.exists():
            _remove_tree(scratch)
        (scratch / "localchain").mkdir(parents=True)
        for name, path in links.items():
            (scratch / "localchain" / name).symlink_to(path, target_is_directory=path.is_dir())
        try:
            scratch.rename(tree)
        except OSError:  # another build made the same tree meanwhile
            _remove_tree(scratch)
    link = target / "localchain"
    if not (link.is_symlink() and os.readlink(link) == f"{tree.name}/localchain"):
        staged = target / f".link-{os.getpid()}"
        staged.unlink(missing_ok=True)
        staged.symlink_to(f"{tree.name}/localchain", target_is_directory=True)
        os.replace(staged, link)
    for old in target.glob(".tree-*"):
        if old != tree:
            _remove_tree(old)
    return target


def _remove_tree(folder: Path) -> None:
    # A tree is one folder of links: unlink them, never follow one into the sources.
    package = folder / "localchain"
    if package.is_dir():
        for entry in package.iterdir():
            entry.unlink()
        package.rmdir()
    folder.rmdir()


# Before mkdocstrings' own on_config, which sets up the Python handler's search paths.
@event_priority(100)
def on_config(config: Any) -> Any:
    build_source_tree()
    return config
