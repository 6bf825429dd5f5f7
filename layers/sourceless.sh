#!/bin/sh
# sourceless.sh DIR [KEEP ...]: after bytecode.sh, ships the third-party modules under DIR as bytecode alone. Each
# module's .pyc for the runtime's Python moves from __pycache__ to where its source was (a "sourceless" module,
# which Python imports as it does any other) and the source goes: the layers hold every module once, not twice.
# Tracebacks through these modules keep their file and line, without the line's text.
#
# KEEP names top-level packages or modules that keep their sources (the pipeline's own, for readable tracebacks).
# A module without its .pyc (bytecode.sh found no Python 3.13) keeps its source.
set -eu
dir=$1
shift
tag=cpython-313

kept() {
    for keep in "$@"; do
        [ "$top" = "$keep" ] && return 0
    done
    return 1
}

find "$dir" -path "*/__pycache__/*.$tag.pyc" | while read -r pyc; do
    cache=$(dirname "$pyc")
    folder=$(dirname "$cache")
    name=$(basename "$pyc" ".$tag.pyc")
    top=${pyc#"$dir"/}
    top=${top%%/*}
    [ "$top" = "__pycache__" ] && top=$name
    if kept "$@" || [ ! -f "$folder/$name.py" ]; then
        continue
    fi
    mv "$pyc" "$folder/$name.pyc"
    rm "$folder/$name.py"
done
find "$dir" -type d -name __pycache__ -empty -delete
echo "sourceless.sh: $dir ships bytecode alone, but for: ${*:-nothing}" >&2
