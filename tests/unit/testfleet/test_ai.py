"""The openai adapter and image preparation, against the fake OpenAI server (real SDK)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from testfleet.ai.image import estimate_image_tokens, prepare_image
from testfleet.ai.model import AiModel, Usage, cost_usd
from testfleet.ai.prompts import PROMPTS
from testfleet.errors import AiError, UsageError
from testfleet.settings import Settings
from tests.fake_openai import DEFAULT_ANALYSIS, FakeOpenAI, Reply, fake_openai

DATA = Path(__file__).resolve().parents[2] / "data"


def page_png(width: int = 1280, height: int = 800) -> bytes:
    """A screenshot-like PNG: flat background, text and boxes (what pages look like)."""
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    for y in range(20, height - 40, 28):
        draw.text(
            (40, y),
            f"Line {y}: the quick brown fox jumps over the lazy dog " * 2,
            fill=(20, 20, 20),
        )
        draw.rectangle((width - 300, y, width - 60, y + 18), outline=(0, 90, 200))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with fake_openai() as server:
        yield server


def settings_for(fake: FakeOpenAI, **ai: object) -> Settings:
    s = Settings(OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=fake.base_url)
    s.ai = s.ai.model_copy(update={"max_attempts": 3, "backoff_base_s": 0.01, **ai})
    return s


@pytest.mark.parametrize("name", ["demo-dashboard.png", "demo-login.png"])
def test_prepared_screenshot_is_a_quarter_of_the_png_and_two_tiles(name: str) -> None:
    raw = (DATA / name).read_bytes()  # real Chromium screenshots of the demo site, 1280x800
    image = prepare_image(raw)
    assert (image.width_px, image.height_px) == (768, 480)
    assert image.mime == "image/webp"
    assert len(image.data) * 4 <= len(raw)
    assert image.estimated_tokens == 170 * 2 + 85
    assert estimate_image_tokens(1280, 800, "high") == 170 * 6 + 85
    assert estimate_image_tokens(1280, 800, "low") == 85
    with Image.open(io.BytesIO(image.data)) as decoded:
        assert decoded.format == "WEBP"
        assert decoded.size == (768, 480)


def test_small_images_are_never_scaled_up() -> None:
    image = prepare_image(page_png(300, 200), image_format="webp")
    assert (image.width_px, image.height_px) == (300, 200)
    assert image.data_url.startswith("data:image/webp;base64,")


def test_unreadable_screenshot_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="not a readable image"):
        prepare_image(b"not a png")


@pytest.mark.parametrize("kind", ["general", "error", "ui_validation"])
def test_analysis_sends_prompt_model_and_prepared_image(fake: FakeOpenAI, kind: str) -> None:
    settings = settings_for(fake, model="gpt-4o")
    image = prepare_image(page_png())
    answer = AiModel(settings).analyze(image, kind, "Test: login")  # type: ignore[arg-type]
    [sent] = fake.chat_requests()
    assert sent.body["model"] == "gpt-4o"
    assert sent.system_prompt == PROMPTS[kind]  # type: ignore[index]
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.body["response_format"]["type"] == "json_schema"
    assert sent.body["response_format"]["json_schema"]["strict"] is True
    [part] = sent.image_parts()
    assert part["image_url"]["detail"] == "high"
    assert sent.image_bytes() == image.data
    assert "Test: login" in sent.body["messages"][1]["content"][0]["text"]
    assert answer.data == DEFAULT_ANALYSIS
    assert answer.usage == Usage(900, 100)


def test_the_three_prompts_differ() -> None:
    assert len(set(PROMPTS.values())) == 3


def test_429_is_retried_after_retry_after(fake: FakeOpenAI) -> None:
    waits: list[float] = []
    fake.fail(429, retry_after="2")
    answer = AiModel(settings_for(fake), sleep=waits.append).complete(
        [{"role": "user", "content": "hi"}], "screenshot_analysis", {}
    )
    assert waits == [2.0]
    assert len(fake.chat_requests()) == 2
    assert answer.data["summary"] == DEFAULT_ANALYSIS["summary"]


def test_5xx_backs_off_exponentially_then_gives_a_clear_error(fake: FakeOpenAI) -> None:
    waits: list[float] = []
    fake.fail(500, times=3)
    model = AiModel(settings_for(fake, backoff_base_s=0.5), sleep=waits.append)
    with pytest.raises(AiError, match=r"kept failing \(HTTP 500\) after 3 attempts"):
        model.complete([{"role": "user", "content": "hi"}], "x", {})
    # 0.5 s doubling, each jittered down by up to half (testfleet.backoff).
    assert 0.25 <= waits[0] <= 0.5 < waits[1] <= 1.0
    assert len(fake.chat_requests()) == 3


def test_retry_after_is_capped(fake: FakeOpenAI) -> None:
    waits: list[float] = []
    fake.fail(429, retry_after="3600")
    AiModel(settings_for(fake, backoff_max_s=5.0), sleep=waits.append).complete(
        [{"role": "user", "content": "hi"}], "x", {}
    )
    assert waits == [5.0]


def test_bad_key_is_not_retried_and_says_what_to_check(fake: FakeOpenAI) -> None:
    fake.then(Reply(status=401))
    with pytest.raises(UsageError, match="check OPENAI_API_KEY"):
        AiModel(settings_for(fake)).complete([{"role": "user", "content": "hi"}], "x", {})
    assert len(fake.chat_requests()) == 1


def test_non_json_answer_is_an_ai_error(fake: FakeOpenAI) -> None:
    fake.then(Reply(content="sorry, no"))
    with pytest.raises(AiError, match="did not answer with JSON"):
        AiModel(settings_for(fake)).complete([{"role": "user", "content": "hi"}], "x", {})


def test_no_key_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="OPENAI_API_KEY"):
        AiModel(Settings(OPENAI_API_KEY=None))


def test_cost_uses_the_model_price_and_a_high_default() -> None:
    s = Settings()
    assert cost_usd(s, "gpt-4o-mini", Usage(1_000_000, 1_000_000)) == pytest.approx(0.75)
    assert cost_usd(s, "unknown-model", Usage(1_000_000, 0)) == pytest.approx(2.5)


def test_model_answers_outside_the_schema_are_cleaned_not_fatal() -> None:
    from testfleet.results import Analysis
    from workers.analysis import to_analysis

    base = Analysis(analysis_type="general", screenshot="s.png", status="completed")
    data = {
        "summary": "ok",
        "issues": [
            {"severity": "bogus", "description": "x"},
            {"severity": "low", "description": "y"},
        ],
        "recommendations": [{"title": "t", "confidence": 7, "implementation": "i"}],
        "scores": [{"name": "layout", "value": 88}, {"name": "broken"}],
    }
    a = to_analysis(data, base)
    assert [i.description for i in a.issues] == ["y"]
    assert a.recommendations[0].confidence == 1.0
    assert a.scores == {"layout": 88.0}
