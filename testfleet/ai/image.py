"""Screenshot preparation for the vision model: smaller, cheaper, still legible.

What a screenshot costs is set by OpenAI's vision accounting (GPT-4o family):

- ``detail: low``: the image is seen at 512 x 512 px, a flat 85 tokens. Too coarse
  for a 1280 px page: 12-14 px body text becomes unreadable, and error and
  ui_validation analyses are about exactly that text.
- ``detail: high``: the image is fitted into 2048 x 2048, then its *shortest* side
  is scaled to 768 px, then covered by 512 px tiles: 170 tokens per tile + 85.
  A 1280 x 800 viewport becomes 1229 x 768 = 3 x 2 tiles = 1105 tokens.

So we downscale the longest side to ``ai.image_max_side_px`` (768 by default):
the 1280 x 800 page becomes 768 x 480 = 2 x 1 tiles = 425 tokens (-62%). Body
text (16 px) ends up about 10 px high, which the model still reads; 1024 px
would cost 4 tiles (765 tokens) for little more legibility, and below 512 px
text is lost.

The bytes sent are re-encoded as WebP (quality 80) by default. WebP is one of
the four formats OpenAI accepts (PNG, JPEG, WebP, GIF) and suits screenshots
best: mostly flat colour with sharp text, where JPEG at q80 hardly beats the
PNG (~1.3x smaller on the demo site) and smears text edges, while WebP is 4-5x
smaller than the raw PNG at 768 px (``bench_ai`` measures it on real demo-site
screenshots; the target is <= 1/4). ``ai.image_format=jpeg`` is there for
OpenAI-compatible servers that cannot decode WebP. Tokens do not depend on
bytes, but request size, upload time and the data URL in every request do.
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
from dataclasses import dataclass
from typing import Literal

from PIL import Image

from testfleet.artifacts.names import media_type
from testfleet.errors import UsageError

ImageFormat = Literal["jpeg", "webp", "png"]
Detail = Literal["low", "high", "auto"]

LOW_DETAIL_TOKENS = 85
TILE_TOKENS = 170
TILE_PX = 512


@dataclass(frozen=True)
class PreparedImage:
    """A screenshot as it is sent to the model."""

    data: bytes
    mime: str
    width_px: int
    height_px: int
    raw_bytes: int
    """Size of the PNG it was made from."""
    detail: Detail

    @property
    def data_url(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"

    @property
    def digest(self) -> str:
        """sha256 of the bytes sent: identical screenshots give identical digests."""
        return hashlib.sha256(self.data).hexdigest()

    @property
    def estimated_tokens(self) -> int:
        return estimate_image_tokens(self.width_px, self.height_px, self.detail)


def estimate_image_tokens(width_px: int, height_px: int, detail: Detail) -> int:
    """Input tokens OpenAI counts for one image (GPT-4o accounting; ``auto`` taken as high)."""
    if detail == "low":
        return LOW_DETAIL_TOKENS
    scale = min(1.0, 2048 / max(width_px, height_px))
    w, h = width_px * scale, height_px * scale
    scale = min(1.0, 768 / min(w, h))
    w, h = w * scale, h * scale
    tiles = math.ceil(w / TILE_PX) * math.ceil(h / TILE_PX)
    return TILE_TOKENS * tiles + LOW_DETAIL_TOKENS


def prepare_image(
    png: bytes,
    max_side_px: int = 768,
    image_format: ImageFormat = "webp",
    quality: int = 80,
    detail: Detail = "high",
) -> PreparedImage:
    """``png`` downscaled (longest side <= ``max_side_px``, never up) and re-encoded."""
    try:
        with Image.open(io.BytesIO(png)) as original:
            original.load()
            image = original.convert("RGB") if image_format != "png" else original.copy()
    except (OSError, ValueError) as exc:
        raise UsageError(f"the screenshot is not a readable image ({exc})") from exc
    longest = max(image.width, image.height)
    if longest > max_side_px:
        scale = max_side_px / longest
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if image_format == "png":
        image.save(out, format="PNG", optimize=True)
    elif image_format == "webp":
        image.save(out, format="WEBP", quality=quality, method=4)
    else:
        image.save(out, format="JPEG", quality=quality, optimize=True)
    return PreparedImage(
        data=out.getvalue(),
        mime=media_type(f".{image_format}"),
        width_px=image.width,
        height_px=image.height,
        raw_bytes=len(png),
        detail=detail,
    )
