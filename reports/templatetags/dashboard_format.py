"""How the dashboard writes figures for people: durations in words, changes as signed percentages."""

from django import template

register = template.Library()


@register.filter
def duration(seconds) -> str:
    """``359`` -> "6 min", ``7300`` -> "2 h 2 min", ``40`` -> "40 s"; a dash for none."""
    if seconds is None:
        return "–"
    seconds = round(float(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} d {hours % 24} h" if hours % 24 else f"{hours // 24} d"


@register.filter
def signed_percent(ratio) -> str:
    """``0.126`` -> "+13%", ``-0.5`` -> "50%" after a minus sign (U+2212); empty for no comparison."""
    if ratio is None:
        return ""
    percent = round(ratio * 100)
    return f"+{percent}%" if percent > 0 else ("0%" if percent == 0 else f"\u2212{-percent}%")


@register.filter
def percent(ratio) -> str:
    """``0.125`` -> "12.5%", ``1`` -> "100%": a rate to one decimal, as conversion rates are read."""
    text = f"{float(ratio) * 100:.1f}".removesuffix(".0")
    return f"{text}%"
