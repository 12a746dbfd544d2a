#!/bin/sh
# Install asgi-operator into a fresh virtualenv: the Dockerfile's build stage runs exactly this, and so does
# tests/integration/test_image.py (no image can be built on machines without a container engine).
#   image-install.sh <venv-dir> <source-dir>
set -eu
venv=$1
src=$2
python -m venv "$venv"
"$venv/bin/pip" install --no-cache-dir --disable-pip-version-check --quiet "$src"
"$venv/bin/asgi-operator" --version
