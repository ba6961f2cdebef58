"""repair.evaluate whose launcher group is SIGKILLed right after rank 0 appended its KILL_AFTER_ROWS-th row: a crash
at a known point, so the resume test does not race a run that may finish before a watcher could kill it.

    KILL_AFTER_ROWS=1 deepspeed --num_gpus 2 tests/repair/evaluate_killed_after.py --model ... --out ...
"""

import os
import signal

from repair import evaluate

KILL_AFTER_ROWS = int(os.environ["KILL_AFTER_ROWS"])
append = evaluate.RowWriter.append
written = 0


def append_then_die(self, *args, **kwargs):
    global written
    append(self, *args, **kwargs)  # flushed and fsynced
    written += 1
    if self.rank == 0 and written >= KILL_AFTER_ROWS:
        os.killpg(os.getpgid(0), signal.SIGKILL)  # the launcher's process group, as a scheduler's kill


evaluate.RowWriter.append = append_then_die

if __name__ == "__main__":
    evaluate.main()
