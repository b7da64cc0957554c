"""Writing a case's step log artifact (``<case id>.log``) when the case ends."""

from __future__ import annotations

from testfleet.artifacts import ArtifactStore
from testfleet.artifacts.steplog import step_log, step_log_name
from testfleet.masking import Masker
from testfleet.results import CaseResult


def with_step_log(case: CaseResult) -> list[str]:
    """The case's artifacts with its step log listed (once), before it is written."""
    name = step_log_name(case.case_id)
    return case.artifacts if name in case.artifacts else [*case.artifacts, name]


def write_step_log(artifacts: ArtifactStore, case: CaseResult, mask: Masker) -> str:
    """Write the final case's step log, secrets masked; returns its artifact name.

    Called only after this delivery recorded the final status, so a losing
    duplicate delivery never overwrites the winner's log.
    """
    return artifacts.save(
        case.run_id, step_log_name(case.case_id), step_log(case, mask).encode("utf-8")
    )
