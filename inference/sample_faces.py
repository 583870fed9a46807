"""Face photos to stream and test with, on any checkout: the shared photo folder (`../shared/data/faces`) when it
is there, else public-domain portraits that installed packages ship.

A plain clone has no `../shared`, but matplotlib (a dependency) ships Grace Hopper's official U.S. Navy portrait
and scikit-image (a dev dependency) ships NASA's portrait of Eileen Collins and a CC0 "cameraman" photo. Each holds
one clear face that BlazeFace finds at full size and at 320x240. Nothing is downloaded: the files are read from the
installed packages.
"""

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from .paths import shared_data_dir

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


@dataclass(frozen=True)
class PublicDomainFace:
    name: str
    package: str
    member: str  # path inside the package
    credit: str

    @property
    def path(self) -> Path | None:
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            return None
        path = Path(next(iter(spec.submodule_search_locations))) / self.member
        return path if path.exists() else None


PUBLIC_DOMAIN_FACES = (
    PublicDomainFace(
        "astronaut",
        "skimage",
        "data/astronaut.png",
        "Eileen Collins, NASA photograph, public domain (scikit-image's `astronaut`)",
    ),
    PublicDomainFace(
        "grace_hopper",
        "matplotlib",
        "mpl-data/sample_data/grace_hopper.jpg",
        "Rear Admiral Grace Hopper, U.S. Navy photograph, public domain (matplotlib's sample data)",
    ),
    PublicDomainFace(
        "cameraman",
        "skimage",
        "data/camera.png",
        "Cameraman, CC0 by the photographer Lav Varshney (scikit-image's `camera`)",
    ),
)


def shared_faces_dir() -> Path:
    return shared_data_dir() / "faces"


def shared_face_photos() -> list[Path]:
    """The shared photo folder's pictures, sorted; empty when the folder is not there."""
    folder = shared_faces_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def public_domain_face_photos() -> list[Path]:
    """The public-domain portraits whose package is installed (Grace Hopper at least: matplotlib is a dependency)."""
    return [face.path for face in PUBLIC_DOMAIN_FACES if face.path is not None]


def face_photos() -> list[Path]:
    """Photos with faces to stream: the shared ones when present, else the public-domain ones."""
    return shared_face_photos() or public_domain_face_photos()
