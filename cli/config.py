"""`localchain config`: the effective settings and where each one came from."""

from __future__ import annotations

from localchain.cli.options import JsonOpt, print_json
from localchain.cli.output import print_table


def config(json_output: JsonOpt = False) -> None:
    """Show the effective settings and the source of each (argument, env, TOML, default)."""
    from localchain.settings import config_files, explain_settings

    explained = explain_settings()
    if json_output:
        print_json(
            {
                "settings": explained,
                "config_files": [
                    {"path": str(p), "exists": p.is_file()} for p in config_files()
                ],
            }
        )
        return
    print_table(
        [(name, entry["value"], entry["source"]) for name, entry in explained.items()],
        headers=("setting", "value", "source"),
    )
    for path in config_files():
        state = "found" if path.is_file() else "not found"
        print(f"config file: {path} ({state})")
