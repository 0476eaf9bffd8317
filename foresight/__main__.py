"""``foresight`` / ``python -m foresight``: what is installed, and where it comes from.

foresight list            methods and environments with the package that provides each
foresight configs         shipped config presets per group (method/, data/, env/)
foresight config ARGS     the resolved config of `foresight.train ARGS`, each value with its source
                          (e.g. foresight config method=clad data=libero_10 train.steps=1000)
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
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["config"]:  # key=value arguments, not options: handed over as they are
        from foresight.explain import main as explain_main

        return explain_main(args[1:])
    parser = argparse.ArgumentParser(
        prog="foresight", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("command", choices=["list", "configs"])
    parsed = parser.parse_args(args)
    {"list": _list, "configs": _configs}[parsed.command]()
    return 0


if __name__ == "__main__":
    sys.exit(main())
