"""Wrap rendered partials for out-of-band swaps; partials themselves never carry hx-swap-oob."""

import re

from flask import after_this_request, redirect, request
from markupsafe import Markup, escape

FIRST_TAG = re.compile(r"^(\s*<[a-zA-Z][a-zA-Z0-9-]*)")


def replace(html):
    """Swap `html` in place of the element with the same id."""
    return Markup(FIRST_TAG.sub(r'\1 hx-swap-oob="true"', str(html), count=1))


def append_to(target_id, html):
    """Append `html` inside the element `target_id`."""
    if not html:
        return Markup("")
    return Markup(f'<div id="{escape(target_id)}" hx-swap-oob="beforeend">{html}</div>')


def fill(target_id, html):
    """Put `html` inside the element `target_id`, in place of what it held."""
    return Markup(f'<div id="{escape(target_id)}" hx-swap-oob="innerHTML">{html}</div>')


def remove(*element_ids):
    """Delete the elements with these ids."""
    return Markup("".join(f'<div id="{escape(i)}" hx-swap-oob="delete"></div>' for i in element_ids))


def goto(path):
    """Take the page to `path`: an element parley.js follows at once, added to <body> (no target)."""
    return Markup(f'<div hx-swap-oob="beforeend:body"><div hidden data-goto="{escape(path)}"></div></div>')


def htmx_request():
    """Whether htmx sent this request, rather than a plain page load or form. The answer then
    depends on the HX-Request header, and says so (Vary): no cache gives a fragment to a page load."""
    after_this_request(_varies_with_htmx)
    return "HX-Request" in request.headers


def _varies_with_htmx(response):
    response.vary.add("HX-Request")
    return response


def or_page(html, page_url):
    """`html` for htmx; a plain form POST (sent before htmx had loaded) reloads the page instead."""
    if htmx_request():
        return html
    return redirect(page_url, 303)
