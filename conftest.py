"""Test settings shared by unit tests and nbval: quick profile, outputs to a temp dir.

Running the tests must never overwrite committed figures or results, so FKD_OUTPUT_DIR
and FKD_CACHE_DIR point into a temporary folder before any notebook kernel starts.
"""

import os
import tempfile

_SCRATCH = tempfile.mkdtemp(prefix="fkd-tests-")
os.environ["FKD_PROFILE"] = "quick"
os.environ["FKD_OUTPUT_DIR"] = os.path.join(_SCRATCH, "out")
os.environ["FKD_CACHE_DIR"] = os.path.join(_SCRATCH, "cache")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TQDM_DISABLE", "1")

from helpers.config import pin_data_root  # noqa: E402  (after the settings above)

pin_data_root()  # notebook kernels run in notebooks/
