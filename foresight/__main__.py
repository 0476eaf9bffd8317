"""``foresight`` / ``python -m foresight``: what is installed, and where it comes from.

foresight list            methods and environments with the package that provides each
foresight configs         shipped config presets per group (method/, data/, env/)
"""

from __future__ import annotations

import argparse
import sys

from foresight import registry
from foresight.config import GROUPS, available


def _list() -> None:
    for title, reg in (("methods", registry.METHODS), ("envs", registry.ENVS)):
        plugins = reg.available()
        print(f"{title} ({reg.group}):")
        if not plugins:
            print("  (none installed)")
        width = max((len(name) for name in plugins), default=0)
        for info in plugins.values():
            print(f"  {info.name:<{width}}  {info.provider:<24}  {info.target}")


def _configs() -> None:
    for group in GROUPS:
        print(f"{group}: {', '.join(available(group)) or '(none)'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="foresight", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("command", choices=["list", "configs"])
    args = parser.parse_args(argv)
    {"list": _list, "configs": _configs}[args.command]()
    return 0


if __name__ == "__main__":
    sys.exit(main())
