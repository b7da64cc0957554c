"""Screenshots' thumbnails and names."""

from __future__ import annotations

import io

from PIL import Image

THUMBNAIL_WIDTH_PX = 320
"""Width of the thumbnail saved beside every screenshot, in pixels."""


def thumbnail_name(name: str) -> str:
    """The thumbnail's name for a screenshot named ``name`` (``x.png`` -> ``x-thumb.png``)."""
    stem = name.removesuffix(".png")
    return f"{stem}-thumb.png"


def make_thumbnail(png: bytes, width_px: int = THUMBNAIL_WIDTH_PX) -> bytes:
    """``png`` scaled down to ``width_px`` wide (aspect kept; never scaled up), as PNG."""
    with Image.open(io.BytesIO(png)) as original:
        image: Image.Image = original
        if original.width > width_px:
            height_px = max(1, round(original.height * width_px / original.width))
            image = original.resize((width_px, height_px), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=True)
    return out.getvalue()
