"""Bad input gets one clear line, exit status 2 and no traceback (issue 18), at every entry point, run for real.

Each case runs the real command in a subprocess (the deepspeed ones through the real launcher with 2 CPU ranks) and
checks: status 2, no "Traceback", exactly one error line, naming the offending path / key / value, and nothing
half-written. The mechanism's pieces (skip-and-count, clamping, rank prefix, debug switch) are checked in-process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from data.jsonl import read_jsonl
from data.usage import UsageError

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PYTHONPATH": str(REPO), "WANDB_MODE": "disabled", "TOKENIZERS_PARALLELISM": "false",
       "OMP_NUM_THREADS": "1"}
ENV.pop("DIFFUCODE_DEBUG", None)
GOOD_PROBLEM = {"task_id": "t/1", "prompt": "def f(x):\n", "entry_point": "f", "tests": ["assert f(1) == 2"]}
TRUNCATED = '{"task_id": "t/2", "prompt": "def g(x'  # a row cut mid-write


def run(*args: str, cwd: Path = REPO, env: dict | None = None, launcher: list[str] | None = None):
    cmd = [*(launcher or [sys.executable]), *args]
    return subprocess.run(cmd, cwd=cwd, env={**ENV, **(env or {})}, capture_output=True, text=True, timeout=600,
                          start_new_session=True)


def error_line(proc, *needles: str) -> str:
    """The one error line of a run that must have stopped on bad input; it names every needle."""
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out[-4000:]
    assert "Traceback" not in out, out[-4000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith(("error:", "config error:"))]
    assert len(lines) == 1, out[-4000:]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def write_jsonl(path: Path, *lines) -> Path:
    path.write_text("".join((ln if isinstance(ln, str) else json.dumps(ln)) + "\n" for ln in lines))
    return path


def deepspeed(port: int) -> list[str]:
    return [str(BIN / "deepspeed"), "--num_gpus", "2", "--master_port", str(port)]


# ---- the table ----
def test_evaluate_missing_model_dir_writes_nothing(tmp_path):
    problems = write_jsonl(tmp_path / "p.jsonl", GOOD_PROBLEM)
    out = tmp_path / "out"
    proc = run("-m", "repair.evaluate", "--model", str(tmp_path / "no-model"), "--problems", str(problems),
               "--out", str(out))
    error_line(proc, str(tmp_path / "no-model"), "no such directory")
    assert not out.exists()  # no config.json a rerun with the right model would refuse


@pytest.mark.deepspeed
def test_sft_tiny_config_before_the_tiny_model_is_built_reports_once(tmp_path, master_port):
    """configs/sft/tiny.yaml names runs/tiny-model; from a directory where it does not exist, 2 ranks, one line."""
    proc = run(str(REPO / "train/sft.py"), "--config", str(REPO / "configs/sft/tiny.yaml"),
               f"output_dir={tmp_path / 'sft'}", cwd=tmp_path, launcher=deepspeed(master_port()))
    line = error_line(proc, "runs/tiny-model", "python scripts/make_tiny_model.py --out runs/tiny-model")
    assert (proc.stdout + proc.stderr).count(line.split(": ", 1)[1]) == 1
    assert not (tmp_path / "sft").exists()


def test_evaluate_malformed_problems_file_names_file_and_line(tmp_path, tiny_model_dir):
    problems = write_jsonl(tmp_path / "p.jsonl", GOOD_PROBLEM, TRUNCATED)
    out = tmp_path / "out"
    proc = run("-m", "repair.evaluate", "--model", str(tiny_model_dir), "--problems", str(problems),
               "--out", str(out))
    error_line(proc, f"{problems}:2:", "not valid JSON")
    assert not out.exists()


def test_evaluate_missing_problems_file(tmp_path, tiny_model_dir):
    from repair.evaluate import main

    with pytest.raises(UsageError, match=f"problems file not found: {tmp_path / 'nope.jsonl'}"):
        main(["--model", str(tiny_model_dir), "--problems", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o")])
    assert not (tmp_path / "o").exists()


def test_synthesize_malformed_prompts_file(tmp_path, tiny_model_dir):
    prompts = write_jsonl(tmp_path / "prompts.jsonl", {"prompt": "def f():\n"}, {"prompt": "x"}, TRUNCATED)
    out = tmp_path / "pairs.jsonl"
    proc = run("-m", "repair.synthesize", "--model", str(tiny_model_dir), "--prompts", str(prompts),
               "--out", str(out))
    error_line(proc, f"{prompts}:3:", "not valid JSON")
    assert not out.exists() and not Path(f"{out}.done.jsonl").exists()


@pytest.mark.deepspeed
def test_grpo_unknown_reward_function_reports_once(tmp_path, tiny_model_dir, master_port):
    proc = run("rl/grpo.py", "--config", "configs/rl/tiny.yaml", f"model={tiny_model_dir}",
               f"output_dir={tmp_path / 'rl'}", "rewards.funcs=[nope]", launcher=deepspeed(master_port()))
    line = error_line(proc, "unknown reward functions ['nope']", "known: ['code', 'format']")
    assert line.startswith("config error:")
    assert (proc.stdout + proc.stderr).count("unknown reward functions") == 1
    assert not (tmp_path / "rl").exists()


def test_generate_clamps_block_length_to_a_short_generation(tiny_model_dir):
    proc = run("-m", "inference.generate", "--model", str(tiny_model_dir), "--prompt", "def f(x):",
               "--gen-length", "8", "--steps", "8")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "note: --block-length 32 > --gen-length 8: sampling one block of 8" in proc.stderr
    assert "nfe" in proc.stderr


def test_generate_refuses_blocks_that_do_not_tile_the_generation(tiny_model_dir):
    from inference.generate import main

    with pytest.raises(UsageError, match="--gen-length 64 must be a multiple of --block-length 24"):
        main(["--model", str(tiny_model_dir), "--prompt", "x", "--gen-length", "64", "--block-length", "24"])


# ---- one per remaining entry point ----
def test_sft_every_training_row_malformed(tmp_path, tiny_model_dir):
    data = write_jsonl(tmp_path / "train.jsonl", TRUNCATED, "[1, 2]")
    proc = run("train/sft.py", "--config", "configs/sft/tiny.yaml", f"model={tiny_model_dir}", "use_wandb=false",
               f"output_dir={tmp_path / 'sft'}", f"data.name={data}")
    error_line(proc, f"every row of the training data file {data} is bad", f"{data}:1:")
    assert not (tmp_path / "sft" / "config.yaml").exists()


def test_corrupt_malformed_input(tmp_path):
    data = write_jsonl(tmp_path / "code.jsonl", {"code": "x = 1\n"}, {"text": "no code field"})
    out = tmp_path / "pairs.jsonl"
    proc = run("-m", "repair.corrupt", "--input", str(data), "--out", str(out))
    error_line(proc, f"{data}:2:", "missing field 'code' or 'fixed'")
    assert not out.exists()


def test_pair_stats_row_without_pair_fields(tmp_path):
    pairs = write_jsonl(tmp_path / "pairs.jsonl", {"broken": "x = (", "fixed": "x = ()"})
    error_line(run("-m", "repair.pair_stats", str(pairs)), f"{pairs}:1:", "missing field 'edit_distance'")


def test_resume_repair_bad_noise_levels_and_input(tmp_path):
    broken = write_jsonl(tmp_path / "broken.jsonl", {"broken": "x = (\n"}, TRUNCATED)
    args = ["-m", "repair.resume_repair", "--model", str(tmp_path / "no-model"), "--input", str(broken),
            "--out", str(tmp_path / "o.jsonl")]
    error_line(run(*args), f"{broken}:2:", "not valid JSON")  # the input is read before the model loads
    from repair.resume_repair import main

    with pytest.raises(UsageError, match=r"--noise-levels are fractions .* got 0.5,1.5"):
        main(args[2:] + ["--noise-levels", "0.5,1.5"])


def test_check_malformed_samples(tmp_path):
    problems = write_jsonl(tmp_path / "p.jsonl", GOOD_PROBLEM)
    samples = write_jsonl(tmp_path / "s.jsonl", {"task_id": "t/1", "completion": "    return x + 1\n"},
                          {"task_id": "t/1"})
    proc = run("-m", "repair.check", "--problems", str(problems), "--samples", str(samples),
               "--out", str(tmp_path / "r.jsonl"), "--workers", "1")
    error_line(proc, f"{samples}:2:", "missing field 'solution' or 'completion'")
    assert not (tmp_path / "r.jsonl").exists()


def test_localize_problem_without_tests(tmp_path):
    problems = write_jsonl(tmp_path / "p.jsonl", GOOD_PROBLEM, {"task_id": "t/2", "prompt": "def g():\n"})
    samples = write_jsonl(tmp_path / "s.jsonl", {"task_id": "t/1", "completion": "    return x\n"})
    proc = run("-m", "repair.localize", "--problems", str(problems), "--samples", str(samples),
               "--out", str(tmp_path / "l.jsonl"))
    error_line(proc, f"{problems}:2:", "missing field 'tests' or 'test_cases'")


def test_report_without_runs(tmp_path):
    error_line(run("-m", "repair.report", "--out", str(tmp_path)), str(tmp_path), "runs/*.jsonl")


def test_generate_offline_without_a_cached_hub_model(tmp_path):
    proc = run("-m", "inference.generate", "--model", "nobody-here/no-such-model", "--prompt", "x",
               env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")})
    error_line(proc, "nobody-here/no-such-model", "offline")


def test_make_tiny_model_refuses_sizes_before_training_the_tokenizer(tmp_path):
    proc = run("scripts/make_tiny_model.py", "--out", str(tmp_path / "m"), "--n-heads", "3")
    error_line(proc, "--d-model 64", "n_heads (3)")
    assert not (tmp_path / "m").exists()


def test_debug_switches_keep_the_traceback(tmp_path):
    missing = str(tmp_path / "none.jsonl")
    for proc in (run("-m", "repair.pair_stats", missing, "--debug"),
                 run("-m", "repair.pair_stats", missing, env={"DIFFUCODE_DEBUG": "1"})):
        assert proc.returncode == 1 and "Traceback" in proc.stderr and "UsageError" in proc.stderr


# ---- the pieces, in-process ----
def test_training_rows_skip_and_count_until_every_row_is_bad(tmp_path, capsys):
    from data.sources import SourceConfig, load_examples

    data = write_jsonl(tmp_path / "d.jsonl", {"prompt": "p", "completion": "c"}, TRUNCATED, "7",
                       {"prompt": "q", "completion": "d"})
    examples, stats = load_examples(SourceConfig(name=str(data)))
    assert len(examples) == 2 and stats.skipped["malformed_row"] == 2
    assert f"skipped 2 bad row(s) of {data} (first: {data}:2: not valid JSON" in capsys.readouterr().err
    bad = write_jsonl(tmp_path / "bad.jsonl", TRUNCATED)
    with pytest.raises(UsageError, match=f"every row of the training data file {bad} is bad"):
        load_examples(SourceConfig(name=str(bad)))


def test_problem_files_stop_at_the_first_bad_row(tmp_path):
    from data.problems import load_problems

    path = write_jsonl(tmp_path / "p.jsonl", GOOD_PROBLEM, GOOD_PROBLEM)
    with pytest.raises(UsageError, match=f"{path}:2: task_id 't/1' repeats line 1"):
        load_problems(path=str(path))
    with pytest.raises(UsageError, match=r":1: expected a JSON object per line, got list"):
        read_jsonl(write_jsonl(tmp_path / "l.jsonl", "[1]"), "problems file")


def test_block_schedule_clamps_or_states_the_rule(capsys):
    from inference.sampler import fit_block_schedule

    assert fit_block_schedule(8, 32, 8) == 8 and "block_length 32 > gen_length 8" in capsys.readouterr().err
    assert fit_block_schedule(64, 32, 64) == 32 and capsys.readouterr().err == ""
    with pytest.raises(UsageError, match="steps 5 must be a multiple of the number of blocks 2"):
        fit_block_schedule(64, 32, 5)
    with pytest.raises(UsageError, match="gen_length must be >= 1"):
        fit_block_schedule(0, 32, 5)


def test_rl_config_clamps_block_length(tiny_model_dir):
    from rl.grpo import Config, validate
    from train.config import load_config

    cfg = load_config(Config, ["--config", str(REPO / "configs/rl/tiny.yaml"), f"model={tiny_model_dir}",
                               "max_completion_length=16"])
    validate(cfg)
    assert cfg.block_length == 16


def test_model_sources(tmp_path, tiny_model_dir):
    from inference.loading import check_model_source

    check_model_source(str(tiny_model_dir))
    (tmp_path / "run" / "final" / "adapter").mkdir(parents=True)
    (tmp_path / "run" / "final" / "adapter" / "adapter_config.json").write_text("{}")
    with pytest.raises(UsageError, match="holds no config.json .* did you mean .*final/adapter"):
        check_model_source(str(tmp_path / "run"))
    with pytest.raises(UsageError, match="build the tiny model first: python scripts/make_tiny_model.py --out x/tiny"):
        check_model_source("x/tiny")
    with pytest.raises(UsageError, match="not a Hub id"):
        check_model_source(str(tmp_path / "a" / "b"))


def test_other_ranks_wait_then_prefix_their_rank(monkeypatch, capsys):
    import data.usage as usage

    monkeypatch.setattr(usage, "RANK_GRACE_SECONDS", 0.0)
    monkeypatch.setenv("RANK", "1")
    usage.report(UsageError("bad\nthing"))
    usage.note("not from rank 1")
    assert capsys.readouterr().err == "[rank 1] error: bad thing\n"
