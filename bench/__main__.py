"""``make bench``: no benchmark is written yet, and this says so instead of pretending.

The throughput (fleet vs pytest-xdist and a hand-tuned runner), pool, gateway and
dispatch benchmarks of SPEC section 9 come with the pool, gateway and orchestrator work.
"""

import sys

print(
    "make bench: no benchmarks yet; throughput/pool, gateway and dispatch benchmarks "
    "(SPEC section 9) are still to be written",
    file=sys.stderr,
)
sys.exit(2)
