#!/bin/sh
# What the build stages of both images run (Dockerfile, examples/app/Dockerfile), with no network: a virtualenv
# holding exactly the wheels of a wheelhouse that .ci/image.sh built on the host, installed without an index.
#   image-install.sh <venv-dir> <wheel-dir>...   install every wheel of these directories (no resolver, no index)
#   image-install.sh --finish <venv-dir>         check the installed set is consistent, take the installer out of
#                                                the virtualenv (the final stage gets no pip), compile what is left
#   image-install.sh --compile [<dir>...]        (final stage) compile the interpreter's standard library and
#                                                these directories, where they lack bytecode
# Bytecode is made at build time, for everything the container imports: it runs with a read-only root and
# PYTHONDONTWRITEBYTECODE, so whatever lacks it would be compiled again at every start. pip compiles what it
# installs by default, but not when PIP_NO_COMPILE is set, nor the app's own files; and the official python
# images ship their standard library without bytecode.
set -eu
if [ "$1" = --compile ]; then
    shift
    python3 -m compileall -q -j 0 "$(python3 -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')" "$@"
    exit 0
fi
if [ "$1" = --finish ]; then
    venv=$2
    "$venv/bin/python" -m pip check
    # setuptools and pkg_resources come with the virtualenv; nothing at run time needs them
    "$venv/bin/python" -m pip uninstall --yes --quiet setuptools pip
    # the Kubernetes client ships an asyncio copy of itself (kubernetes/aio, 68 MB) that neither the operator
    # nor Kopf imports (Kopf talks to the API with aiohttp; the operator uses kubernetes.client)
    rm -rf "$venv"/lib/python3*/site-packages/kubernetes/aio
    "$venv/bin/python" -m compileall -q -j 0 "$venv"/lib/python3*/site-packages
    exit 0
fi
venv=$1
shift
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
for wheels in "$@"; do
    "$venv/bin/python" -m pip install --no-index --no-deps --no-cache-dir --disable-pip-version-check --quiet \
        "$wheels"/*.whl
done
