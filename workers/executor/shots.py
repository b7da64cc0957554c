"""Screenshots' thumbnails. Their names are the artifact store's (``x.png`` ->
``x.thumb.png``, ``testfleet.artifacts.names``), so the report finds what is saved here."""

from __future__ import annotations

import io

from PIL import Image

from testfleet.artifacts import thumbnail_name

__all__ = ["THUMBNAIL_WIDTH_PX", "make_thumbnail", "thumbnail_name"]

THUMBNAIL_WIDTH_PX = 320
"""Width of the thumbnail saved beside every screenshot, in pixels."""


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
