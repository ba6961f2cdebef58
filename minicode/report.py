"""minicode results: the main job's summary.json and the full run's report.md (the papers' tables in miniature).

    python -m minicode.report summary RUN_DIR --sft-model DIR --rl-model DIR --evaluate-args ARGS...
    python -m minicode.report full RUN_DIR

Reads only what the entry points wrote (metrics.jsonl of SFT / RL, results.json of repair.evaluate, the pair
statistics of repair.synthesize / repair.pair_stats, the stage timings of minicode/main.sh and full.sh); runs no model.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from minicode.full_report import write_full_report
from minicode.summary import print_headline, summary


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m minicode.report", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("summary")
    s.add_argument("run")
    s.add_argument("--sft-model", required=True)
    s.add_argument("--rl-model", required=True)
    s.add_argument("--evaluate-args", nargs=argparse.REMAINDER, default=[])
    f = sub.add_parser("full")
    f.add_argument("run")
    args = p.parse_args(argv)
    if args.command == "summary":
        print_headline(summary(Path(args.run), args.sft_model, args.rl_model, args.evaluate_args))
    else:
        print(f"report -> {write_full_report(Path(args.run))}")


if __name__ == "__main__":
    main()
