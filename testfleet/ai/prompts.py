"""What testfleet asks the model: one prompt per analysis type, and the JSON schemas
its answers must follow (OpenAI structured output, ``strict``).

Strict schemas need every property listed in ``required`` and no extra
properties, so optional fields are nullable instead of absent. ``PROMPT_VERSION``
is part of the analysis cache key: changing a prompt invalidates cached answers.
"""

from __future__ import annotations

from typing import Any

from testfleet.suites.model import AnalysisType
from testfleet.suites.steps.docs import GENERATED_SPECS, prompt_vocabulary

PROMPT_VERSION = "3"

_COMMON = (
    "You are a senior QA engineer reviewing a screenshot taken by an automated browser test. "
    "Answer only with JSON following the given schema. Be concrete: name the element or "
    "region for every issue (location), give severity critical|high|medium|low|info, and "
    "give recommendations with a confidence from 0 to 1 and how to implement them. "
    "Scores are 0-100. If the page looks fine, say so and return no issues."
)

PROMPTS: dict[AnalysisType, str] = {
    "general": _COMMON
    + " Task: a general review of this page: what it shows, visible defects (broken layout, "
    "missing images, error banners, placeholder text), and the overall quality. Scores: "
    "visual_quality, usability, content.",
    "error": _COMMON
    + " Task: the test FAILED at the step described below; this screenshot was taken at "
    "the failure. Explain from what is visible why the step most likely failed (element "
    "missing, different text, an error message, a modal covering it, still loading) and "
    "whether the application or the test is at fault. When the browser's console errors and "
    "failed requests are given, weigh them too (a request that answered 500, an uncaught "
    "error) and cite the entries you rely on; cite none you did not use. Recommendations "
    "should say how to fix the test or the application. Scores: confidence_app_bug, "
    "confidence_test_bug.",
    "ui_validation": _COMMON
    + " Task: validate the user interface: alignment, overlapping or clipped elements, "
    "contrast and legibility, consistent spacing and fonts, form labels and accessible "
    "names, responsive problems. Scores: layout, accessibility, consistency.",
}


def analysis_messages(
    analysis_type: AnalysisType,
    context: str,
    data_url: str,
    detail: str,
    evidence: str | None = None,
) -> list[dict[str, Any]]:
    """The chat messages for one analysis: system prompt, then the context, the browser's
    evidence of a failure (``testfleet.ai.evidence``) when there is some, and the image."""
    text = f"Test context:\n{context}" if context else "No further context."
    content: list[dict[str, Any]] = [{"type": "text", "text": text}]
    if evidence:
        content.append({"type": "text", "text": evidence})
    content.append({"type": "image_url", "image_url": {"url": data_url, "detail": detail}})
    return [
        {"role": "system", "content": PROMPTS[analysis_type]},
        {"role": "user", "content": content},
    ]


DIFF_PROMPT = (
    "You are a senior QA engineer reviewing a visual regression check of an automated "
    "browser test. You get three images of the same page or element: 1) the approved "
    "BASELINE, 2) the ACTUAL screenshot of this run, 3) the DIFF: the actual faded to grey "
    "with every changed pixel in red and an orange box around the changed region. Regions "
    "painted solid magenta were masked on purpose: ignore them. Compare 1 and 2, using 3 "
    "to find where they differ. Answer only with JSON following the given schema: a short "
    "summary of what changed; each change with its kind (text, color, layout, content, "
    "added, removed, other), a description naming the old and the new look, and where it "
    "is (an element or region); a verdict: regression (looks like a bug: broken layout, "
    "overlap, missing or garbled content, wrong data), intended (looks like a deliberate "
    "design or copy change) or uncertain; cosmetic: true only when the change alters looks "
    "alone (colour, spacing, font, a small shift) and no content or function; and your "
    "confidence in the verdict from 0 to 1. Never guess at what is not visible."
)


def diff_messages(context: str, data_urls: list[str], detail: str) -> list[dict[str, Any]]:
    """The chat messages for a ``visual_diff``: the prompt, the context, then the baseline,
    the actual screenshot and the diff, each introduced by name."""
    text = f"Test context:\n{context}" if context else "No further context."
    content: list[dict[str, Any]] = [{"type": "text", "text": text}]
    for title, url in zip(("1) BASELINE", "2) ACTUAL", "3) DIFF"), data_urls, strict=True):
        content.append({"type": "text", "text": title})
        content.append({"type": "image_url", "image_url": {"url": url, "detail": detail}})
    return [{"role": "system", "content": DIFF_PROMPT}, {"role": "user", "content": content}]


def _nullable(kind: str) -> dict[str, Any]:
    return {"type": [kind, "null"]}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


ANALYSIS_SCHEMA: dict[str, Any] = _object(
    {
        "summary": {"type": "string"},
        "issues": {
            "type": "array",
            "items": _object(
                {
                    "severity": {
                        "type": "string",
                        "enum": ["critical", "high", "medium", "low", "info"],
                    },
                    "description": {"type": "string"},
                    "location": _nullable("string"),
                }
            ),
        },
        "recommendations": {
            "type": "array",
            "items": _object(
                {
                    "title": {"type": "string"},
                    "confidence": {"type": "number"},
                    "implementation": {"type": "string"},
                }
            ),
        },
        "scores": {
            "type": "array",
            "items": _object({"name": {"type": "string"}, "value": {"type": "number"}}),
        },
    }
)
"""An analysis answer. Scores are a list of {name, value} because strict schemas
cannot describe a free-form mapping."""

ERROR_ANALYSIS_SCHEMA: dict[str, Any] = _object(
    {
        **ANALYSIS_SCHEMA["properties"],
        "citations": {
            "type": "array",
            "items": _object(
                {
                    "kind": {"type": "string", "enum": ["console", "request"]},
                    "index": {"type": "integer"},
                }
            ),
        },
    }
)
"""A failure analysis's answer: an analysis plus the browser evidence it cites (the kind
and number of each entry shown, ``C1`` is console 1)."""


def analysis_schema(analysis_type: AnalysisType) -> dict[str, Any]:
    """The answer schema of an analysis type (``error`` analyses may cite evidence)."""
    return ERROR_ANALYSIS_SCHEMA if analysis_type == "error" else ANALYSIS_SCHEMA


VISUAL_DIFF_SCHEMA: dict[str, Any] = _object(
    {
        "summary": {"type": "string"},
        "changes": {
            "type": "array",
            "items": _object(
                {
                    "kind": {
                        "type": "string",
                        "enum": ["text", "color", "layout", "content", "added", "removed", "other"],
                    },
                    "description": {"type": "string"},
                    "location": _nullable("string"),
                }
            ),
        },
        "verdict": {"type": "string", "enum": ["regression", "intended", "uncertain"]},
        "cosmetic": {"type": "boolean"},
        "confidence": {"type": "number"},
    }
)
"""A visual diff explanation (``results.DiffExplanation`` plus a summary)."""


def _step_schema() -> dict[str, Any]:
    """A canonical step for strict structured output: every field the registry's steps
    use, nullable (uploads excepted: a model cannot attach files)."""
    used = dict.fromkeys(f.to for spec in GENERATED_SPECS for f in spec.fields if f.kind != "files")
    step_types = list(dict.fromkeys(s.step_type for s in GENERATED_SPECS))
    kinds_checked = [s.assertion for s in GENERATED_SPECS if s.assertion]
    kinds: dict[str, dict[str, Any]] = {
        "index": _nullable("integer"),
        "width": _nullable("integer"),
        "height": _nullable("integer"),
        "allow_status": {"type": ["array", "null"], "items": {"type": "integer"}},
        "mask": {"type": ["array", "null"], "items": {"type": "string"}},
        "max_diff_ratio": _nullable("number"),
        "threshold": _nullable("number"),
        "analyze": {
            "type": ["string", "null"],
            "enum": ["general", "error", "ui_validation", None],
        },
    }
    properties: dict[str, Any] = {
        "order_index": {"type": "integer"},
        "name": _nullable("string"),
        "step_type": {"type": "string", "enum": step_types},
        "assertion": {"type": ["string", "null"], "enum": [*kinds_checked, None]},
        "match": {"type": ["string", "null"], "enum": ["equals", "contains", "matches", None]},
        "negate": _nullable("boolean"),
        "timeout_seconds": _nullable("number"),
    }
    for name in used:
        properties.setdefault(name, kinds.get(name, _nullable("string")))
    return _object(properties)


_STEP_SCHEMA = _step_schema()

TEST_CASE_SCHEMA: dict[str, Any] = _object(
    {
        "name": {"type": "string"},
        "description": _nullable("string"),
        "category": _nullable("string"),
        "priority": {"type": "string", "enum": ["critical", "high", "medium", "low"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "steps": {"type": "array", "items": _STEP_SCHEMA},
    }
)
"""One test case in the canonical suite form (SPEC section 3)."""

GENERATE_PROMPT = (
    "You write browser end-to-end tests for testfleet. Given requirements, return ONE test "
    "case as JSON following the schema (canonical form). Steps run in order_index order "
    "(1, 2, 3...). Use null for fields a step does not need. Selectors are CSS by default; "
    'prefer what users see: text=Sign in, role=button[name="Save"], label=Email, '
    "placeholder=Search, testid=x; scope with >> (#list >> text=Milk), pick with nth=0. "
    "Actions wait by themselves until their element is visible, enabled and not covered; "
    "assertions retry until their timeout, and negate: true expects the opposite. "
    "Start with a navigate step, end with an assertion, and take a screenshot at the "
    "important state. Prefer ids, names and labels visible in the requirements. The step "
    "kinds:\n" + prompt_vocabulary()
)


def generate_messages(
    requirements: str, url: str | None, feedback: list[str]
) -> list[dict[str, Any]]:
    """The chat messages asking for a test case; ``feedback`` are the validation problems
    of the previous answer, given back so the model can correct them."""
    user = f"Requirements:\n{requirements}\n\nBase URL: {url or '(none: use absolute URLs)'}"
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": GENERATE_PROMPT},
        {"role": "user", "content": user},
    ]
    if feedback:
        problems = "\n".join(f"- {p}" for p in feedback)
        messages.append(
            {
                "role": "user",
                "content": "Your previous test case was invalid:\n"
                f"{problems}\nReturn a corrected test case.",
            }
        )
    return messages
