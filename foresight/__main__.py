"""``foresight <command> ...`` / ``python -m foresight <command> ...``: every job of the library by one name.

``foresight --help`` lists the commands; ``foresight <command> --help`` the options of one (see
:mod:`foresight.cli`). Each command is also reachable as ``python -m <its module>``.
"""

from __future__ import annotations

import sys

from foresight import cli


def list_plugins(args: list[str]) -> int:
    """Methods and environments with the package that provides each."""
    from foresight import registry

    _no_arguments("list", args)
    for title, reg in (("methods", registry.METHODS), ("envs", registry.ENVS)):
        plugins = reg.available()
        print(f"{title} ({reg.group}):")
        if not plugins:
            print("  (none installed)")
        width = max((len(name) for name in plugins), default=0)
        for info in plugins.values():
            print(f"  {info.name:<{width}}  {info.provider:<24}  {info.target}")
    return 0


def list_configs(args: list[str]) -> int:
    """Shipped config presets per group."""
    from foresight.config import GROUPS, available

    _no_arguments("configs", args)
    for group in GROUPS:
        print(f"{group}: {', '.join(available(group)) or '(none)'}")
    return 0


def _no_arguments(name: str, args: list[str]) -> None:
    if args:
        raise cli.UsageError(f"{name} takes no arguments, got {args}")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in cli.HELP_FLAGS:
        print(cli.top_level_help(), file=sys.stdout if args else sys.stderr)
        return 0 if args else 2
    for words in (2, 1):  # "data inspect" before "data"
        name = " ".join(args[:words])
        if name in cli.COMMANDS:
            return cli.main(name, args[words:])
    group = [name for name in cli.COMMANDS if name.startswith(f"{args[0]} ")]
    known = ", ".join(group or cli.COMMANDS)
    what = f"{args[0]} needs one of" if group else f"unknown command {args[0]!r}; commands:"
    print(f"foresight: error: {what} {known}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
