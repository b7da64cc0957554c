"""Whether a failed case's visual mismatches were all judged cosmetic by the model.

Off by default (``ai.visual_downgrade_cosmetic``): an AI explanation never changes
a verdict on its own. Turned on, a case that failed only because of visual
mismatches, each explained by the model as a cosmetic change with at least
``ai.visual_downgrade_min_confidence``, passes with those steps marked ``warning``
(their error says why). Any other failure, a mismatch the model did not explain
(no key, budget spent, the call failed) or one it calls otherwise keeps the
failure.
"""

from __future__ import annotations

from testfleet.results import Analysis, StepResult
from testfleet.settings import Settings


def cosmetic_warnings(
    settings: Settings, status: str, steps: list[StepResult], analyses: list[Analysis]
) -> list[StepResult] | None:
    """The steps with the cosmetic mismatches turned into warnings, when every failure of a
    ``failed`` case is one; None when the failure stands."""
    ai = settings.ai
    if not ai.visual_downgrade_cosmetic or status != "failed":
        return None
    explained = {
        a.step: a
        for a in analyses
        if a.analysis_type == "visual_diff" and a.status == "completed" and a.explanation
    }
    failed = [s for s in steps if s.status == "failed"]
    if not failed:
        return None
    notes: dict[int, str] = {}
    for step in failed:
        analysis = explained.get(step.index)
        if step.visual is None or step.visual.outcome != "mismatch" or analysis is None:
            return None
        explanation = analysis.explanation
        assert explanation is not None
        if not explanation.cosmetic or explanation.confidence < ai.visual_downgrade_min_confidence:
            return None
        notes[step.index] = (
            f"{step.error} — judged a cosmetic change by {analysis.model or 'the model'} "
            f"(confidence {explanation.confidence:.0%}): a warning, not a failure"
        )
    return [
        s.model_copy(update={"status": "warning", "error": notes[s.index]})
        if s.index in notes
        else s
        for s in steps
    ]
