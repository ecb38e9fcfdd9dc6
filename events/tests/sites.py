"""A customer's web site for the browser tests, and waiting for what its pages send to be stored."""

import functools
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from analytics_project.testing import DATABASE_LOCK
from events.models import Event

WAIT_SECONDS = 10


class Site:
    """A customer's web site: HTML pages (and scripts, by a path ending in .js) by path, served from
    127.0.0.1 (and so from localhost too)."""

    def __init__(self):
        self.pages: dict[str, str] = {}
        handler = functools.partial(_SiteHandler, self)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str, host: str = "localhost") -> str:
        return f"http://{host}:{self.port}{path}"


class _SiteHandler(BaseHTTPRequestHandler):
    def __init__(self, site: Site, *args, **kwargs):
        self.site = site
        super().__init__(*args, **kwargs)

    def do_GET(self):
        html = self.site.pages.get(self.path.split("?")[0])
        body = (html or "<h1>Not found</h1>").encode()
        self.send_response(200 if html else 404)
        script = self.path.split("?")[0].endswith(".js")
        self.send_header("Content-Type", "text/javascript" if script else "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


def stored_events(app, **filters) -> list[Event]:
    with DATABASE_LOCK:
        return list(Event.objects.filter(app=app, **filters).order_by("id"))


def wait_for_events(app, count: int, **filters) -> list[Event]:
    """The app's events in arrival order, once ``count`` are stored (beacons are sent asynchronously)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        events = stored_events(app, **filters)
        if len(events) >= count or time.monotonic() > deadline:
            assert len(events) == count, f"expected {count} events, stored: {[(e.name, e.url) for e in events]}"
            return events
        time.sleep(0.05)


def browse_as(page, user_agent: str) -> None:
    """Give the page a real browser's User-Agent: Plausible and Umami drop headless Chrome as a bot."""
    page.context.new_cdp_session(page).send("Network.setUserAgentOverride", {"userAgent": user_agent})
