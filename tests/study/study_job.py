"""Runs ``foresight.study`` in a process of its own with the ``dots`` env registered (killed by the resume test).

python study_job.py <study file> [key=value ...]
"""

import sys


def main(argv: list[str]) -> int:
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import study_fakes  # noqa: F401 (registers the dots env)

    from foresight.study.__main__ import main as study_main

    return study_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
