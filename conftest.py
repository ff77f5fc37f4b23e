"""Test settings shared by unit tests and nbval: quick profile, outputs to a temp dir.

Running the tests must never overwrite committed figures or results, so FKD_OUTPUT_DIR
and FKD_CACHE_DIR point into a temporary folder before any notebook kernel starts.
"""

import atexit
import os
import shutil
import tempfile

_SCRATCH = tempfile.mkdtemp(prefix="fkd-tests-")
atexit.register(shutil.rmtree, _SCRATCH, ignore_errors=True)  # no scratch left behind per run
os.environ["FKD_PROFILE"] = "quick"
os.environ["FKD_OUTPUT_DIR"] = os.path.join(_SCRATCH, "out")
os.environ["FKD_CACHE_DIR"] = os.path.join(_SCRATCH, "cache")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TQDM_DISABLE", "1")

from helpers.config import pin_data_root  # noqa: E402  (after the settings above)

pin_data_root()  # notebook kernels run in notebooks/


def pytest_sessionfinish(session, exitstatus) -> None:
    """With FKD_FAIL_ON_SKIP=1 (`make test`, and so CI) a skipped test fails the run: a skip
    means data, or the browser check, was not tested."""
    if os.environ.get("FKD_FAIL_ON_SKIP") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped and session.exitstatus == 0:
        reporter.write_line(f"FKD_FAIL_ON_SKIP: {skipped} test(s) skipped, so the run fails")
        session.exitstatus = 1
