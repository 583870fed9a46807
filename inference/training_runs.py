"""Training runs kept outside the repository, so that a run can resume and `train-status` can report on it.

    <training dir>/<name>/          default ~/.cache/fermonitor/training; FERMONITOR_TRAINING_DIR overrides
        config.json                 the run's TrainConfig: `train --resume NAME` continues the same recipe
        state.json                  epochs done, per-epoch history, best epoch, patience count, pid, s/epoch
        last.weights.h5             the model after the last finished epoch ...
        last.optimizer.npz          ... and the optimizer's state (moments, step count) at that moment
        best.weights.h5             the best epoch by hold-out accuracy: what early stopping keeps
    <training dir>/<name>.log       a background run's output, by convention (docs/training.md)

Every file is written under a temporary name and renamed, so a run killed mid-write leaves the previous epoch's
checkpoint intact.
"""

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path


def training_dir() -> Path:
    return Path(
        os.environ.get("FERMONITOR_TRAINING_DIR") or Path.home() / ".cache" / "fermonitor" / "training"
    )


@dataclass
class RunState:
    name: str
    epochs: int  # the schedule's total
    holdout: str  # fingerprint of the hold-out: a resumed run must see the same images
    epochs_done: int = 0
    best_accuracy: float | None = None  # hold-out accuracy of the best epoch
    best_epoch: int | None = None  # 1-based
    wait: int = 0  # epochs since the best one (early-stopping patience)
    finished: bool = False  # the schedule or early stopping ended it; a time limit does not
    stopped: str = ""  # why it ended, in words
    history: list[dict] = field(
        default_factory=list
    )  # per epoch: epoch, loss, accuracy, val_accuracy, seconds
    pid: int | None = None
    updated: float = 0.0

    def seconds_per_epoch(self) -> float | None:
        """The median of the last few epochs: robust to one epoch slowed by other work on the machine."""
        recent = sorted(row["seconds"] for row in self.history[-5:])
        return recent[len(recent) // 2] if recent else None


class RunFolder:
    def __init__(self, name: str, root: Path | None = None):
        self.name = name
        self.path = (root or training_dir()) / name
        self.config = self.path / "config.json"
        self.state_file = self.path / "state.json"
        self.last_weights = self.path / "last.weights.h5"
        self.last_optimizer = self.path / "last.optimizer.npz"
        self.best_weights = self.path / "best.weights.h5"
        self.log = self.path.parent / f"{name}.log"

    def exists(self) -> bool:
        return self.state_file.exists()

    def read_state(self) -> RunState:
        return RunState(**json.loads(self.state_file.read_text()))

    def write_state(self, state: RunState) -> None:
        state.updated = time.time()
        write_atomically(self.state_file, lambda p: p.write_text(json.dumps(asdict(state), indent=1) + "\n"))

    def read_config(self) -> dict:
        return json.loads(self.config.read_text())


def write_atomically(target: Path, write) -> None:
    """`write(path)` into a temporary name beside `target`, then rename it over `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # Keras insists on the `.weights.h5` ending, so the temporary name keeps the whole suffix.
    partial = target.with_name(f"partial-{target.name}")
    write(partial)
    os.replace(partial, target)


def pid_is_training(pid: int | None) -> bool:
    """Whether `pid` is alive and is a `python -m inference train` process (a recycled pid is not)."""
    if not pid:
        return False
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"inference" in command and any(part in (b"train", b"--resume") for part in command)


def run_status(folder: RunFolder) -> dict:
    state = folder.read_state()
    per_epoch = state.seconds_per_epoch()
    running = pid_is_training(state.pid) and not state.finished
    remaining = 0 if state.finished else state.epochs - state.epochs_done
    return {
        "name": state.name,
        "epochs_done": state.epochs_done,
        "epochs": state.epochs,
        "best_holdout_accuracy": state.best_accuracy,
        "best_epoch": state.best_epoch,
        "seconds_per_epoch": per_epoch,
        "eta_seconds": remaining * per_epoch if per_epoch is not None else None,
        "running": running,
        "pid": state.pid if running else None,
        "finished": state.finished,
        "stopped": state.stopped,
        "log": str(folder.log) if folder.log.exists() else None,
        "checkpoints": str(folder.path),
        "updated": state.updated,
    }


def all_runs(root: Path | None = None) -> list[dict]:
    root = root or training_dir()
    if not root.is_dir():
        return []
    folders = sorted(p for p in root.iterdir() if (p / "state.json").exists())
    return [run_status(RunFolder(p.name, root)) for p in folders]


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def format_runs(runs: list[dict], root: Path | None = None) -> str:
    if not runs:
        return f"No training runs in {root or training_dir()}."
    lines = []
    for run in runs:
        best = run["best_holdout_accuracy"]
        if run["finished"]:
            state = f"finished ({run['stopped']})"
        elif run["running"]:
            state = f"running (pid {run['pid']}), ETA {_duration(run['eta_seconds'])} at most"
        else:
            state = "not running" + (f" ({run['stopped']})" if run["stopped"] else "") + " - resume with "
            state += f"`python -m inference train --resume {run['name']}`"
        lines.append(
            f"{run['name']}: epoch {run['epochs_done']}/{run['epochs']}, best hold-out accuracy "
            + (f"{best:.4f} (epoch {run['best_epoch']})" if best is not None else "-")
            + f", {run['seconds_per_epoch']:.0f} s/epoch" * (run["seconds_per_epoch"] is not None)
            + f", {state}"
        )
        lines.append(f"    checkpoints {run['checkpoints']}" + (f", log {run['log']}" if run["log"] else ""))
    return "\n".join(lines)
