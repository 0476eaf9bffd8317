#!/usr/bin/env bash
# Run the fast test suite against the lowest versions pyproject.toml allows (ci/min-versions.txt).
#
#   tools/check_min_versions.sh [pytest args]
#       A fresh virtual environment ($MIN_VENV, default .venv-min) with foresight[dev] installed under the
#       constraints: every core dependency at its floor (downloads torch 2.2, several GB). Then the fast suite.
#   tools/check_min_versions.sh --layer [pytest args]
#       The pure-Python floors (LAYER below) installed with --no-deps into a folder put first on PYTHONPATH of the
#       existing .venv: minutes, no torch download. Catches floors such as omegaconf 2.3 that cannot read
#       CLaD's config; packages of .venv that need newer versions of these (sentence-transformers) may then fail
#       on their own account.
#
# pytest args default to the fast suite in random order: -m "not slow" -p randomly.
set -euo pipefail
cd "$(dirname "$0")/.."
CONSTRAINTS=ci/min-versions.txt
LAYER="omegaconf jsonschema tqdm huggingface_hub accelerate diffusers transformers safetensors"

pin() {  # the pinned requirement of one package from the constraints file
    grep -i "^$1==" "$CONSTRAINTS"
}

if [[ "${1:-}" == "--layer" ]]; then
    shift
    PY=${PYTHON:-.venv/bin/python}
    TARGET=${MIN_LAYER:-.venv-min-layer}
    rm -rf "$TARGET"
    pins=$(for p in $LAYER; do pin "$p"; done)
    # transformers 4.40 reads tokenizers < 0.20 only
    "$PY" -m pip install --quiet --no-deps --target "$TARGET" $pins "tokenizers>=0.19,<0.20"
    export PYTHONPATH="$PWD/$TARGET${PYTHONPATH:+:$PYTHONPATH}"
else
    VENV=${MIN_VENV:-.venv-min}
    "${PYTHON:-python3}" -m venv "$VENV"
    PY="$VENV/bin/python"
    "$PY" -m pip install --quiet --upgrade pip
    "$PY" -m pip install --quiet -c "$CONSTRAINTS" -e ".[dev]"
fi

# Show which packages are at their floor (in --layer mode only the LAYER ones are).
"$PY" - "$CONSTRAINTS" <<'PY'
import sys
from importlib import metadata
from packaging.version import Version

for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, version = line.split("==")
    try:
        installed = metadata.version(name)
    except metadata.PackageNotFoundError:
        installed = "missing"
    mark = "at floor" if installed != "missing" and Version(installed) == Version(version) else "-"
    print(f"{name:18s} floor {version:10s} installed {installed:12s} {mark}")
PY

if [[ $# -eq 0 ]]; then
    set -- -q -m "not slow" -p randomly
fi
exec "$PY" -m pytest "$@"
