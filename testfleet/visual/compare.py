"""Comparing two screenshots with Pillow: how many pixels changed, where, and a picture of it.

A pixel counts as changed when any of its colour channels moved by more than the
per-pixel ``threshold`` (0-1 of the channel's range): small moves are what
anti-aliasing and font smoothing make, a real change (text, colour, layout) moves
channels far. The comparison then says how many pixels changed, the ratio of the
whole, and the box around them; the step passes when that ratio is at most its
``max_diff_ratio``.

Everything runs in Pillow's C loops, never per pixel in Python: channel-wise
absolute difference (``ImageChops.difference``), one lookup table that turns each
channel into changed / unchanged, one conversion that merges the channels (a
pixel is non-zero when any channel is), then a histogram (the count) and
``getbbox`` (the region); identical pictures stop at the difference's empty
``getbbox``, without copying either image's bytes. ``make bench BENCH=visual``
measures a 1280 x 800 compare against a per-pixel loop and the usual ``ImageChops``
recipe with a Python count.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageDraw

from testfleet.errors import UsageError

DEFAULT_THRESHOLD = 0.1
"""Per pixel: a channel must move by more than 10 % of its range (26 of 255) to count."""
DEFAULT_MAX_DIFF_RATIO = 0.0
"""By default no pixel may change (beyond the per-pixel threshold)."""
MASK_COLOR = (255, 0, 255)
"""What masked regions are painted with, in the baseline and the actual alike."""
HIGHLIGHT_COLOR = (230, 0, 60)
"""Changed pixels in the diff image."""
REGION_COLOR = (255, 140, 0)
"""The box drawn around every changed pixel in the diff image."""
PNG_COMPRESS_LEVEL = 3
"""zlib level of the PNGs written here: a third of the time of level 6 for ~10 % more bytes."""

Rect = tuple[float, float, float, float]
"""x, y, width, height (px)."""


@dataclass(frozen=True)
class Comparison:
    """What changed between a baseline and an actual screenshot."""

    changed_px: int
    total_px: int
    region: tuple[int, int, int, int] | None = None
    """x, y, width, height around every changed pixel; None when none changed."""
    size_change: str | None = None
    """``WxH -> WxH`` when the sizes differ (then every pixel counts as changed)."""
    changed: Image.Image | None = None
    """Mode ``1``-like ``L`` mask, 255 where a pixel changed (None when none did)."""

    @property
    def ratio(self) -> float:
        """Changed pixels / all pixels (1.0 when the sizes differ)."""
        if self.size_change is not None:
            return 1.0
        return self.changed_px / self.total_px if self.total_px else 0.0

    def within(self, max_diff_ratio: float) -> bool:
        """Whether the change is within the tolerance."""
        return self.size_change is None and self.ratio <= max_diff_ratio


def decode(png: bytes) -> Image.Image:
    """A PNG (or any image Pillow reads) as RGB; ``UsageError`` when it is not one."""
    try:
        with Image.open(io.BytesIO(png)) as opened:
            opened.load()
            return opened.convert("RGB") if opened.mode != "RGB" else opened.copy()
    except (OSError, ValueError) as exc:
        raise UsageError(f"not a readable image ({exc})") from exc


def encode(image: Image.Image) -> bytes:
    """``image`` as PNG bytes."""
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return out.getvalue()


def identical(a: Image.Image, b: Image.Image) -> bool:
    """Whether two images have the same size and the very same pixels (compared in
    Pillow's C loop, without copying either image's bytes out)."""
    if a.size != b.size or a.mode != b.mode:
        return False
    return ImageChops.difference(a, b).getbbox(alpha_only=False) is None


def _table(threshold: float) -> list[int]:
    """The per-band lookup table: 255 where a channel moved by more than ``threshold``."""
    if not 0.0 <= threshold <= 1.0:
        raise UsageError(f"threshold must be 0-1, not {threshold}")
    limit = round(threshold * 255)
    band = [255 if value > limit else 0 for value in range(256)]
    return band * 3


def compare(baseline: Image.Image, actual: Image.Image, threshold: float) -> Comparison:
    """How ``actual`` differs from ``baseline`` (both RGB), pixel by pixel."""
    width, height = actual.size
    total = width * height
    if baseline.size != actual.size:
        size_change = f"{baseline.width}x{baseline.height} -> {width}x{height}"
        return Comparison(total, total, (0, 0, width, height), size_change)
    difference = ImageChops.difference(baseline, actual)
    # getbbox of the difference is the cheapest "identical?" (no copy of either image).
    if difference.getbbox() is None:
        return Comparison(0, total)
    # Any band at 255 makes the merged pixel non-zero (blue alone weighs 29 of 255 in L).
    merged = difference.point(_table(threshold)).convert("L")
    box = merged.getbbox()
    if box is None:
        return Comparison(0, total)
    changed = total - merged.histogram()[0]
    left, top, right, bottom = box
    mask = merged.point([0] + [255] * 255)
    return Comparison(changed, total, (left, top, right - left, bottom - top), None, mask)


def diff_image(actual: Image.Image, comparison: Comparison) -> Image.Image:
    """The actual screenshot faded to grey, changed pixels in ``HIGHLIGHT_COLOR``, and a box
    around them; for a size change, the actual with a box around all of it."""
    faded = actual.convert("L").point([150 + value * 105 // 255 for value in range(256)])
    picture = faded.convert("RGB")
    if comparison.changed is not None:
        picture = Image.composite(
            Image.new("RGB", picture.size, HIGHLIGHT_COLOR), picture, comparison.changed
        )
    if comparison.region is not None:
        x, y, w, h = comparison.region
        draw = ImageDraw.Draw(picture)
        draw.rectangle((x - 2, y - 2, x + w + 1, y + h + 1), outline=REGION_COLOR, width=2)
    return picture


def crop(image: Image.Image, box: Rect) -> Image.Image | None:
    """The part of ``image`` inside ``box`` (clipped to it); None when nothing is left."""
    x, y, w, h = box
    left, top = max(0, round(x)), max(0, round(y))
    right, bottom = min(image.width, round(x + w)), min(image.height, round(y + h))
    if right <= left or bottom <= top:
        return None
    return image.crop((left, top, right, bottom))


def paint(image: Image.Image, rects: list[Rect]) -> Image.Image:
    """``image`` with every rectangle filled with ``MASK_COLOR`` (in place; returned)."""
    if rects:
        draw = ImageDraw.Draw(image)
        for x, y, w, h in rects:
            if w > 0 and h > 0:
                draw.rectangle(
                    (round(x), round(y), round(x + w) - 1, round(y + h) - 1), fill=MASK_COLOR
                )
    return image
