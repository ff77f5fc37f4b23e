"""Facial keypoint detection: the package the notebooks and commands import.

Layers from the bottom up, imports running downward only: the ground modules here (config,
geometry, images, crop, files, plots); nets/; data/ and inference/ side by side; training/;
reports/ (docs/layout.md).
`python -m helpers` lists the commands. `from helpers import Landmarker` is the one public name
a user of the shipped model needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .inference.predict import Landmarker  # noqa: F401


def __getattr__(name: str) -> Any:
    """Landmarker, imported on first use so that `import helpers` stays light."""
    if name == "Landmarker":
        from .inference.predict import Landmarker  # noqa: F401

        return Landmarker
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")
