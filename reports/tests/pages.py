"""The app page as a browser ends up showing it: the shell, each panel fetched and put in its place."""

import html
import re

PANEL = re.compile(r'<div class="panel[^"]*" data-panel-src="([^"]+)">.*?</div></div>', re.S)


def whole_page(client, path: str) -> str:
    """The page at ``path`` with every panel's HTML in place; a panel that does not answer 200 fails."""
    shell = client.get(path)
    assert shell.status_code == 200, (path, shell.status_code)

    def panel(match: re.Match) -> str:
        src = html.unescape(match.group(1))
        response = client.get(src)
        assert response.status_code == 200, (src, response.status_code)
        return response.content.decode()

    return PANEL.sub(panel, shell.content.decode())


def wait_for_panels(page, *, pending: int = 0) -> None:
    """Until every panel of the app page in ``page`` (a Playwright page) but ``pending`` has loaded."""
    page.wait_for_selector("[data-panel-src]", state="attached")
    page.wait_for_function(
        "pending => document.querySelectorAll('[data-panel-src]:not([data-loaded])').length === pending", arg=pending
    )
