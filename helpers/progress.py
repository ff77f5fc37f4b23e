"""Progress bars: tqdm's, a widget in a notebook and text in a terminal. TQDM_DISABLE=1 turns
them all off, as the tests and CI do; tqdm's notebook bars do not read it themselves."""

from __future__ import annotations

import os

from tqdm.auto import tqdm


def progress(*args, **kwargs) -> tqdm:
    """A tqdm bar (same arguments), off when TQDM_DISABLE is set to a true value."""
    kwargs.setdefault("disable", os.environ.get("TQDM_DISABLE", "").lower() in ("1", "true"))
    return tqdm(*args, **kwargs)
