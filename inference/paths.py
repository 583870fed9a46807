"""Where models live: `FERMONITOR_MODELS_DIR`, else `<repo>/models` (filled by `python -m inference setup`)."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_MODELS_DIR = (
    Path(__file__).resolve().parent / "trained"
)  # models this project trained and ships in git
SETUP_COMMAND = "python -m inference setup"


def models_dir(explicit: str | os.PathLike | None = None) -> Path:
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("FERMONITOR_MODELS_DIR") or REPO_ROOT / "models")


def shared_data_dir() -> Path:
    """The shared data folder beside the repository (`../shared/data`), overridable for other layouts."""
    return Path(os.environ.get("FERMONITOR_SHARED_DIR") or REPO_ROOT.parent / "shared") / "data"
