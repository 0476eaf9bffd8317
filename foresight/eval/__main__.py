"""``python -m foresight.eval``: see :mod:`foresight.eval.cli`.

Nothing is imported at module level: spawned simulator workers must not pay for (or initialise) the policy side.
"""

if __name__ == "__main__":
    import sys

    from foresight.eval.cli import main

    sys.exit(main())
