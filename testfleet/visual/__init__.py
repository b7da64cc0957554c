"""Visual regression: screenshots compared with approved baselines.

``compare``: Pillow's side (how many pixels changed, where, a diff image, masks);
``baselines``: the baselines themselves, versioned per project in the artifact store.
The browser side (freezing animations, masks by selector, the stable-page wait) is
the worker's (``workers/executor/visual.py``); approving is the API's.
"""

from testfleet.visual.baselines import BaselineIdentity, BaselineStore, BaselineVersion
from testfleet.visual.compare import (
    DEFAULT_MAX_DIFF_RATIO,
    DEFAULT_THRESHOLD,
    Comparison,
    compare,
    decode,
    diff_image,
    encode,
    identical,
)

__all__ = [
    "DEFAULT_MAX_DIFF_RATIO",
    "DEFAULT_THRESHOLD",
    "BaselineIdentity",
    "BaselineStore",
    "BaselineVersion",
    "Comparison",
    "compare",
    "decode",
    "diff_image",
    "encode",
    "identical",
]
