"""``/ws/live``: one app's events as they are stored, a count each second, and visitors and pages now.

Who may listen (tenant isolation as on every endpoint: a socket joins its own app's group and no other):

- a dashboard session, for ``?app=<id>`` among the apps its dashboard shows (a member's organisations'
  apps, by role; an operator's as the admin shows them); the socket must come from this server's own
  pages (its Origin is the host it asks), so another site cannot open one with a visitor's cookie;
- or anyone whose first message is ``{"apiKey": "sk_…"}``, a secret key, for that key's app. A key is
  never taken from the URL, which servers and proxies log.

Refusals close the socket with a code a client can tell apart: 4401 no credentials (or none within
AUTH_TIMEOUT), or an unusable key; 4403 a publishable key, or staff without the permission; 4404 an
app the session cannot see.

Messages, server to client: ``hello`` (the figures now and the latest events), ``events`` (as stored),
``tick`` (each second: the events stored in it; visitors and pages now, refreshed every
REFRESH_SECONDS). A client may send ``{"type": "ping"}`` and gets ``pong``.
"""

import asyncio
import uuid
from urllib.parse import parse_qs, urlsplit

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils import timezone

from apikeys.models import App
from apikeys.selectors import api_key_authenticate
from live.publisher import group_name
from reports.access import IsSecretKeyOrStaff, dashboard_apps
from reports.queries.live import now_figures

AUTH_TIMEOUT = 10.0
REFRESH_SECONDS = 5
UNAUTHENTICATED, FORBIDDEN, NOT_FOUND = 4401, 4403, 4404


def _now_message(app_id, message_type: str) -> dict:
    figures = now_figures(app_id=app_id, now=timezone.now())
    pages = [{"path": path, "visitors": visitors} for path, visitors in figures.pages]
    message = {"type": message_type, "visitors": figures.visitors, "pages": pages}
    return {**message, "events": figures.latest} if message_type == "hello" else message


def _session_app(user, app_param: str) -> App | int:
    """The session's app, one its dashboard shows (reports.access.dashboard_apps), or the close code refusing it."""
    if user.is_staff and not user.has_perm(IsSecretKeyOrStaff.staff_permission) and not user.memberships.exists():
        return FORBIDDEN
    try:
        app_id = uuid.UUID(app_param)
    except ValueError:
        return NOT_FOUND
    return dashboard_apps(user).filter(pk=app_id).first() or NOT_FOUND


def _key_app(raw_key) -> App | int:
    api_key = api_key_authenticate(raw_key=raw_key) if isinstance(raw_key, str) else None
    if api_key is None or not api_key.is_usable:
        return UNAUTHENTICATED
    return api_key.app if api_key.is_secret else FORBIDDEN


class LiveConsumer(AsyncJsonWebsocketConsumer):
    app: App | None = None
    ticker: asyncio.Task | None = None
    stored_this_second = 0

    async def connect(self):
        await self.accept()
        user = self.scope.get("user")
        if user is not None and user.is_authenticated and self._same_origin():
            query = parse_qs(self.scope.get("query_string", b"").decode())
            found = await database_sync_to_async(_session_app)(user, query.get("app", [""])[0])
            await self._start_or_refuse(found)
            return
        self.ticker = asyncio.create_task(self._close_unless_authenticated())

    def _same_origin(self) -> bool:
        headers = dict(self.scope.get("headers", []))
        origin, host = headers.get(b"origin", b"").decode(), headers.get(b"host", b"").decode()
        return bool(origin) and urlsplit(origin).netloc == host

    async def _close_unless_authenticated(self):
        await asyncio.sleep(AUTH_TIMEOUT)
        if self.app is None:
            await self.close(code=UNAUTHENTICATED)

    async def receive_json(self, content, **kwargs):
        if self.app is None:
            raw_key = content.get("apiKey") if isinstance(content, dict) else None
            await self._start_or_refuse(await database_sync_to_async(_key_app)(raw_key))
        elif isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def _start_or_refuse(self, found: App | int) -> None:
        if isinstance(found, int):
            await self.close(code=found)
            return
        if self.ticker is not None:
            self.ticker.cancel()
        self.app = found
        await self.channel_layer.group_add(group_name(found.pk), self.channel_name)
        await self.send_json(await database_sync_to_async(_now_message)(found.pk, "hello"))
        self.ticker = asyncio.create_task(self._tick())

    async def _tick(self):
        figures, second = {}, 0
        while True:
            await asyncio.sleep(1)
            if second % REFRESH_SECONDS == 0:
                figures = await database_sync_to_async(_now_message)(self.app.pk, "tick")
            second += 1
            stored, self.stored_this_second = self.stored_this_second, 0
            await self.send_json({**figures, "at": timezone.now().isoformat(), "stored": stored})

    async def events_stored(self, message):
        self.stored_this_second += message["count"]
        await self.send_json({"type": "events", "count": message["count"], "events": message["events"]})

    async def disconnect(self, code):
        if self.ticker is not None:
            self.ticker.cancel()
        if self.app is not None:
            await self.channel_layer.group_discard(group_name(self.app.pk), self.channel_name)
