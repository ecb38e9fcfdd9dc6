"""Unique organisation slugs. Pure, so the data migration that gives each existing app an organisation
makes them exactly as new organisations get them."""

from collections.abc import Callable

from django.utils.text import slugify

MAX_LENGTH = 60


def unique_slug(name: str, *, taken: Callable[[str], bool]) -> str:
    """``name`` as a slug (``org`` when nothing of it is left), with ``-2``, ``-3``… until ``taken`` says no."""
    base = slugify(name)[: MAX_LENGTH - 8].strip("-") or "org"
    slug, number = base, 1
    while taken(slug):
        number += 1
        slug = f"{base}-{number}"
    return slug
