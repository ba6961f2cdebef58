#!/usr/bin/env bash
# minicode, the main job, as users start it (README): `bash scripts/minicode.sh [RUN_DIR]` (~36 minutes on 2 cores),
# `bash scripts/minicode.sh --full [RUN_DIR]` (the papers in miniature, ~8.2 hours). The recipe itself (its stages,
# their settings and the report) lives in its own room, minicode/: main.sh, full.sh, lib.sh, report.py.
set -euo pipefail
exec bash "$(dirname "$0")/../minicode/main.sh" "$@"
