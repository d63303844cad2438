#!/bin/sh
# Writes its arguments and environment into the item's output directory.
set -e
out="$1"
shift
echo "args: $*" > "$out"
echo "greeting: $GREETING" > "$OUT_DIR/env.txt"
if [ -n "$SECRET_FROM_PARENT" ]; then echo "leaked" >> "$OUT_DIR/env.txt"; fi
