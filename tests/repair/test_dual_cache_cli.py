"""`python -m repair.evaluate --dual-cache` end to end on the tiny model, and the options it cannot run with."""

from __future__ import annotations

import json

import pytest

ARGS = ["--dataset", "mbpp", "--limit", "2", "--gen-length", "32", "--block-length", "8", "--steps", "16",
        "--seeds", "0", "--strategies", "no-repair", "--workers", "1"]


def test_dual_cache_runs_stage1_with_the_sampler_mode_and_is_labelled(tiny_model_dir, tmp_path, monkeypatch):
    from repair import loop
    from repair.evaluate import main

    seen, real = [], loop.generate

    def spy(*args, **kw):
        seen.append((kw["dual_cache"], kw["use_cache"]))
        return real(*args, **kw)

    monkeypatch.setattr(loop, "generate", spy)
    out = tmp_path / "dual"
    main(["--model", str(tiny_model_dir), *ARGS, "--dual-cache", "--out", str(out)])
    assert seen and set(seen) == {(True, False)}
    rows = [json.loads(x) for x in (out / "runs" / "no-repair.seed0.jsonl").read_text().splitlines()]
    assert [r["nfe"] for r in rows] == [16, 16]  # every forward counts, the block-only ones included
    config = json.loads((out / "config.json").read_text())
    assert config["dual_cache"] is True and config["prefix_cache"] is False
    report = (out / "report.md").read_text()
    assert "DualCache" in report and "(FAST MODE stage 1)" in report
    # a rerun into the same OUT must agree on the cache mode
    from data.usage import UsageError

    with pytest.raises(UsageError, match="other settings.*dual_cache"):
        main(["--model", str(tiny_model_dir), *ARGS, "--out", str(out)])


def test_dual_cache_is_exclusive_with_the_prefix_cache_and_refused_with_core(tiny_model_dir, capsys):
    from data.usage import UsageError
    from repair.evaluate import check_inputs, parse_args

    base = ["--model", str(tiny_model_dir), "--dataset", "mbpp", "--out", "/tmp/unused"]
    with pytest.raises(SystemExit):
        parse_args(base + ["--prefix-cache", "--dual-cache"])
    assert "not allowed with argument --prefix-cache" in capsys.readouterr().err
    args = parse_args(base + ["--dual-cache", "--strategies", "no-repair,core-reimpl"])
    with pytest.raises(UsageError, match="core-reimpl .* --dual-cache would keep stale"):
        check_inputs(args)
    assert parse_args(base).dual_cache is False


def test_a_run_recorded_before_the_option_reads_as_uncached(tmp_path):
    from repair.evaluate import parse_args, record_config

    out = tmp_path / "old"
    args = parse_args(["--model", "m", "--dataset", "mbpp", "--out", str(out)])
    config = record_config(args, [])
    del config["dual_cache"]
    (out / "config.json").write_text(json.dumps(config))
    record_config(args, [], write=False)  # no "other settings" error
