#!/bin/sh
# Compiles the Python under each DIR given to bytecode for the Lambda runtime's Python (3.13), in __pycache__
# beside the sources. Lambda's /opt and /var/task are read-only: a module without a .pyc for the runtime's Python
# is compiled again on every cold start, and the result thrown away.
#
# --invalidation-mode unchecked-hash: a default .pyc is valid only while its source's mtime and size match the ones
# it recorded, and the trip through sam's zip, S3 and Lambda's unpacking does not keep mtimes exactly (a zip keeps
# them in 2-second steps, without a time zone), so Python would find every .pyc stale and compile anyway. An
# unchecked-hash .pyc is used as it is, with no stat or hash of the source: right for files that never change.
#
# Without Python 3.13 on this machine the build goes on without bytecode, and says so.
set -eu
version=3.13

works() {
    "$1" -c "import sys; sys.exit(sys.version_info[:2] != ($(echo "$version" | tr . ,)))" 2>/dev/null
}

find_python() {
    for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$version"*/bin/"python$version" "python$version"; do
        if works "$candidate"; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

if ! python=$(find_python); then
    echo "bytecode.sh: no Python $version here (pyenv's versions/$version*, or python$version on PATH):" \
        "$* ships without .pyc, so every cold start compiles the modules it imports" >&2
    exit 0
fi
"$python" -m compileall -q -j0 --invalidation-mode unchecked-hash "$@"
echo "bytecode.sh: compiled $* with $python ($("$python" -V 2>&1))" >&2
