"""Fixtures: the real data root, and small files written by the tests themselves."""

import os
from pathlib import Path

import numpy as np
import pytest
from skimage import io

from helpers import config


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The real data root; skipped without data, failed instead when FKD_REQUIRE_DATA=1."""
    root = config.data_root()
    if not (root / "imm_face_db").is_dir():
        message = f"real data not found at {root} (set FKD_DATA_DIR)"
        if os.environ.get("FKD_REQUIRE_DATA") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return root


ASF_HEADER = (
    "#\n# AAM Shape File\n#\n\n#\n# number of model points\n#\n{count}\n\n#\n# model points\n#\n"
)


def asf_text(points: np.ndarray, image: str = "01-1m.jpg", extra_cols: bool = False) -> str:
    """An .asf file in the IMM layout for relative points (N, 2)."""
    tail = " \t0.00\t0.00\t0.00" if extra_cols else ""
    lines = [
        f"0 \t4 \t{x:.8f} \t{y:.8f} \t{i} \t{max(i - 1, 0)} \t{i + 1}{tail}"
        for i, (x, y) in enumerate(points)
    ]
    return (
        ASF_HEADER.format(count=len(points))
        + "\n".join(lines)
        + f"\n\n#\n# host image\n#\n{image}\n"
    )


@pytest.fixture
def write_face(tmp_path):
    """Write an image (64x48) and its .asf; return the .asf path. Kwargs change what is written."""

    def write(name="01-1m", points=None, size=(64, 48), image=True, text=None, extra_cols=False):
        rng = np.random.default_rng(0)
        points = rng.uniform(0.1, 0.9, (58, 2)) if points is None else points
        if image:
            io.imsave(
                tmp_path / f"{name}.jpg",
                rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8),
                check_contrast=False,
            )
        asf = tmp_path / f"{name}.asf"
        asf.write_text(text if text is not None else asf_text(points, f"{name}.jpg", extra_cols))
        return asf

    return write
