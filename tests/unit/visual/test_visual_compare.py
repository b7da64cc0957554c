"""Pillow's side of visual checks: counting changed pixels, the region, the diff, masks."""

from __future__ import annotations

import random

import pytest
from PIL import Image, ImageDraw

from testfleet.errors import UsageError
from testfleet.visual import compare, decode, diff_image, encode, identical
from testfleet.visual.compare import HIGHLIGHT_COLOR, MASK_COLOR, crop, paint


def page(size: tuple[int, int] = (200, 120)) -> Image.Image:
    """A small 'page': white, a blue banner, grey text-like bars."""
    image = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle((10, 10, 150, 30), fill=(9, 105, 218))
    for y in range(45, 110, 12):
        draw.rectangle((10, y, 120, y + 5), fill=(60, 60, 60))
    return image


def pixels(image: Image.Image) -> list[tuple[int, ...]]:
    """An RGB image's pixels, row by row."""
    raw = image.tobytes()
    return [tuple(raw[i : i + 3]) for i in range(0, len(raw), 3)]


def naive_count(a: Image.Image, b: Image.Image, threshold: float) -> int:
    """The per-pixel Python loop the fast comparison must agree with."""
    limit = round(threshold * 255)
    return sum(
        1
        for pa, pb in zip(pixels(a), pixels(b), strict=True)
        if max(abs(x - y) for x, y in zip(pa, pb, strict=True)) > limit
    )


def test_identical_images_have_nothing_changed() -> None:
    a, b = page(), page()
    result = compare(a, b, 0.1)
    assert (result.changed_px, result.ratio, result.region, result.changed) == (0, 0.0, None, None)
    assert result.within(0.0)
    assert identical(a, b)


def test_a_changed_rectangle_is_counted_exactly_and_boxed() -> None:
    a, b = page(), page()
    ImageDraw.Draw(b).rectangle((160, 50, 179, 59), fill=(0, 0, 0))  # 20 x 10 px
    result = compare(a, b, 0.1)
    assert result.changed_px == 200
    assert result.total_px == 200 * 120
    assert result.region == (160, 50, 20, 10)
    assert result.ratio == pytest.approx(200 / 24000)
    assert not result.within(0.005)
    assert result.within(0.01)
    assert not identical(a, b)


def test_the_threshold_ignores_small_moves_and_counts_one_channel_alone() -> None:
    a = Image.new("RGB", (10, 10), (100, 100, 100))
    slight = Image.new("RGB", (10, 10), (110, 95, 104))  # at most 10 of 255: anti-aliasing
    blue = Image.new("RGB", (10, 10), (100, 100, 160))  # only blue, by 60
    assert compare(a, slight, 0.1).changed_px == 0
    assert compare(a, slight, 0.0).changed_px == 100
    assert compare(a, blue, 0.1).changed_px == 100
    assert compare(a, blue, 0.3).changed_px == 0  # 60 < 77


def test_it_agrees_with_a_per_pixel_loop_on_random_noise() -> None:
    rng = random.Random(7)
    a = Image.frombytes("RGB", (40, 30), bytes(rng.randrange(256) for _ in range(40 * 30 * 3)))
    b = a.copy()
    for _ in range(300):
        x, y = rng.randrange(40), rng.randrange(30)
        r, g, bl = b.getpixel((x, y))  # type: ignore[misc]
        b.putpixel((x, y), ((r + rng.randrange(80)) % 256, g, bl))
    for threshold in (0.0, 0.05, 0.1, 0.2):
        assert compare(a, b, threshold).changed_px == naive_count(a, b, threshold), threshold


def test_a_size_change_is_all_changed_and_never_within_tolerance() -> None:
    result = compare(page((200, 120)), page((200, 160)), 0.1)
    assert result.size_change == "200x120 -> 200x160"
    assert result.ratio == 1.0
    assert not result.within(1.0)
    assert result.region == (0, 0, 200, 160)


def test_the_diff_highlights_exactly_the_changed_pixels() -> None:
    a, b = page(), page()
    ImageDraw.Draw(b).rectangle((160, 50, 179, 59), fill=(0, 0, 0))
    diff = diff_image(b, compare(a, b, 0.1))
    red = sum(1 for p in pixels(diff) if p == HIGHLIGHT_COLOR)
    assert red == 200
    assert diff.getpixel((170, 55)) == HIGHLIGHT_COLOR
    # Elsewhere the page is still there, faded (grey, lighter than the original).
    r, g, bl = diff.getpixel((20, 20))  # type: ignore[misc]
    assert r == g == bl
    assert r > 60


def test_masks_are_painted_and_crops_clip_to_the_image() -> None:
    image = page()
    paint(image, [(100.0, 40.0, 30.0, 20.0), (0, 0, 0, 5)])  # an empty box paints nothing
    assert image.getpixel((100, 40)) == MASK_COLOR
    assert image.getpixel((129, 59)) == MASK_COLOR
    assert image.getpixel((130, 60)) != MASK_COLOR
    part = crop(image, (190.0, 100.0, 50.0, 50.0))
    assert part is not None
    assert part.size == (10, 20)
    assert crop(image, (300.0, 0.0, 10.0, 10.0)) is None


def test_png_round_trip_and_a_clear_error_for_what_is_not_an_image() -> None:
    a = page()
    assert identical(decode(encode(a)), a)
    rgba = Image.new("RGBA", (4, 4), (1, 2, 3, 255))
    assert decode(encode(rgba)).mode == "RGB"
    with pytest.raises(UsageError, match="not a readable image"):
        decode(b"not a png")
    with pytest.raises(UsageError, match="threshold must be 0-1"):
        compare(a, page().transpose(Image.Transpose.FLIP_LEFT_RIGHT), 1.5)
