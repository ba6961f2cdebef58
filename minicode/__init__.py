"""minicode, the recipe that drives every job on a procedural problem world a small model can learn on a CPU.

The room above the jobs (ARCHITECTURE.md): main.sh (the main job's stages), full.sh (`--full`: the papers in
miniature), lib.sh (what both share), and the report that reads what the entry points wrote (figures.py ->
summary.py, full_report.py -> report.py, the CLI). No job imports it. The problem generator itself is a foundation,
data/minicode.py. Users start it with `bash scripts/minicode.sh [--full] [RUN_DIR]`.
"""
