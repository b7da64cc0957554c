"""The step executor: runs one attempt of one test case in one browser session.

Laid out along the step registry's seam (``testfleet.suites.steps``):

- ``attempt``: the step loop, results, failure screenshots (``execute_steps``);
- ``page``: what handlers work with: waiting with a deadline, the selector
  engine, actionability (``act``), the viewport;
- ``probe`` + ``engine.js``: one round trip that finds an element and checks
  it (selectors beyond CSS, Playwright's actionability), or reads what an
  assertion compares;
- one module per family of steps (``navigation``, ``pointer``, ``forms``,
  ``waits``, ``assertions``, ``page_state``), put together in ``handlers``;
- ``visual``: ``assert_screenshot`` (frozen animations, masks, the stable-page
  wait, the comparison with the project's baseline);
- ``errors``: the one place Selenium and transport errors are translated;
- evidence: ``attempt`` reports each step's times, failure and screenshots to
  ``Hooks.trace`` (``testfleet.evidence.recorder``), which snapshots the DOM and reads
  the browser's logs as the case's trace mode asks.

Waiting: no implicit waits (set to 0 at the start). Every wait is explicit and
bounded by the step's ``timeout_seconds`` (else the case default), polling
every ``page.POLL_S``; assertions retry until that deadline, like Playwright's
``expect``. The only sleep is a ``wait`` step given in seconds.

Secrets (``spec.secrets``) are masked in every label and error this package produces.
"""

from workers.executor.attempt import (
    AttemptOutcome,
    Hooks,
    execute_steps,
    planned_rows,
    skipped_results,
)
from workers.executor.errors import BrowserDied, StepFailed
from workers.executor.forms import parse_keys
from workers.executor.shots import make_thumbnail, thumbnail_name
from workers.executor.visual import VisualContext

__all__ = [
    "AttemptOutcome",
    "BrowserDied",
    "Hooks",
    "StepFailed",
    "VisualContext",
    "execute_steps",
    "make_thumbnail",
    "parse_keys",
    "planned_rows",
    "skipped_results",
    "thumbnail_name",
]
