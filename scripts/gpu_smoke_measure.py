"""What scripts/gpu_smoke.py measures and prints per stage: peak GPU memory (nvidia-smi sampled in the background)
beside the estimate term by term, tokens/s and MFU, and the rows of its closing summary table."""

from __future__ import annotations

import subprocess
from pathlib import Path

GiB = 1024**3


class GpuMemory:
    """nvidia-smi sampled every 0.5 s in the background; peak (GiB, max over GPUs) between two marks."""

    def __init__(self, log: Path | None):
        self.log, self.proc = log, None
        if log is not None:
            self.proc = subprocess.Popen(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits",
                                          "-lms", "500"], stdout=log.open("w"), stderr=subprocess.DEVNULL)

    def mark(self) -> int:
        return len(self.log.read_text().split()) if self.log else 0

    def peak(self, since: int) -> float | None:
        values = [float(v) for v in self.log.read_text().split()[since:]] if self.log else []
        return max(values) / 1024 if values else None

    def close(self) -> None:
        if self.proc is not None:
            self.proc.terminate()


def nvidia(query: str) -> str:
    return subprocess.run(["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader"], capture_output=True,
                          text=True, check=True).stdout.splitlines()[0].strip()


def gib_table(parts: dict[str, float]) -> str:
    rows = [f"      {k:<44} {v / GiB:7.2f}" for k, v in parts.items()]
    return "\n".join(rows + [f"      {'total':<44} {sum(parts.values()) / GiB:7.2f}"])


def report(name: str, peak: float | None, estimate: dict, tokens_per_s: float, mfu: float | None, note: str) -> None:
    measured = f"{peak:.1f} GiB" if peak is not None else "n/a (no GPU)"
    print(f"  peak GPU memory {measured} | estimate {sum(estimate.values()) / GiB:.1f} GiB:\n{gib_table(estimate)}")
    print(f"  tokens/s {tokens_per_s:,.0f} | MFU {f'{100 * mfu:.1f}%' if mfu is not None else 'n/a'} ({note})")
    SUMMARY.append((name, peak, sum(estimate.values()) / GiB, tokens_per_s, mfu))


SUMMARY: list[tuple] = []
