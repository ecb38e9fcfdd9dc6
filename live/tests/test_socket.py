"""/ws/live through the whole ASGI application (session middleware included), on the configured channel
layer: Redis publish/subscribe when REDIS_URL is set, else in memory.

Each test is one coroutine run with async_to_sync from the test's thread, so the consumer's database
calls and the test's own (ingestion through the test client, in sync_to_async) run on that thread and
its connection, as in a server's; transaction=True because channels closes a connection left inside a
transaction.
"""

import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from analytics_project.asgi import application
from apikeys.services import api_key_revoke, app_register
from live import consumers
from organisations.services import membership_add

pytestmark = pytest.mark.django_db(transaction=True)
HOST = [(b"host", b"testserver"), (b"origin", b"http://testserver")]


def scenario(coroutine, *args):
    """Run ``coroutine(*args)`` to its end (the test body), failing the test on what it raises."""
    return async_to_sync(coroutine)(*args)


@pytest.fixture
def shop(db):
    return app_register(name="Shop", owner_email="o@shop.example")


@pytest.fixture
def rival(db):
    return app_register(name="Rival", owner_email="o@rival.example")


def collect(app, *events) -> None:
    body = {
        "events": [{"event": name, "userId": user, "url": f"https://shop.example{path}"} for name, user, path in events]
    }
    response = Client().post(
        "/api/analytics/collect", json.dumps(body), content_type="application/json", HTTP_X_API_KEY=app.secret_key.raw
    )
    assert response.status_code in (201, 202), response.content


def session_cookie(*, superuser=True, permission=True) -> list[tuple[bytes, bytes]]:
    user = get_user_model().objects.create_user("op", "op@example.com", "pw", is_staff=True, is_superuser=superuser)
    if permission and not superuser:
        user.user_permissions.add(Permission.objects.get(codename="view_event"))
    client = Client()
    client.force_login(user)
    return [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]


async def opened(path="/ws/live", headers=()) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, path, headers=[*HOST, *headers])
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def next_of(communicator, kind: str, timeout: float = 3) -> dict:
    """The next message of a kind, skipping others (ticks arrive every second)."""
    while True:
        message = await communicator.receive_json_from(timeout)
        if message["type"] == kind:
            return message


async def closed_with(communicator, timeout: float = 3) -> int:
    message = await communicator.receive_output(timeout)
    assert message["type"] == "websocket.close", message
    return message["code"]


def test_a_dashboard_session_gets_the_figures_now_then_each_event_as_it_is_stored(shop):
    collect(shop, ("pageview", "u_1", "/pricing"))
    cookie = session_cookie()

    async def body():
        socket = await opened(f"/ws/live?app={shop.app.id}", cookie)
        hello = await next_of(socket, "hello")
        assert (hello["visitors"], hello["pages"]) == (1, [{"path": "/pricing", "visitors": 1}])
        assert [(event["name"], event["path"]) for event in hello["events"]] == [("pageview", "/pricing")]
        await sync_to_async(collect)(shop, ("signup", "u_2", "/join?token=secret"), ("pageview", "u_2", "/"))
        stored = await next_of(socket, "events")
        assert [(event["name"], event["path"]) for event in stored["events"]] == [
            ("signup", "/join"),
            ("pageview", "/"),
        ]
        assert "token" not in json.dumps(stored) and "url" not in stored["events"][0]
        assert stored["events"][0]["timestamp"].endswith("Z")
        tick = await next_of(socket, "tick")
        assert tick["stored"] == 2 and tick["visitors"] == 2
        await socket.disconnect()

    scenario(body)


def test_an_api_client_authenticates_with_a_first_message_holding_its_secret_key(shop):
    async def body():
        socket = await opened()
        await socket.send_json_to({"apiKey": shop.secret_key.raw})
        assert (await next_of(socket, "hello"))["visitors"] == 0
        await sync_to_async(collect)(shop, ("pageview", "u_1", "/"))
        assert (await next_of(socket, "events"))["events"][0]["name"] == "pageview"
        await socket.send_json_to({"type": "ping"})
        await next_of(socket, "pong")
        await socket.disconnect()

    scenario(body)


@pytest.mark.parametrize("first_message", [{"apiKey": "sk_not_a_key"}, {"apiKey": 42}, {"hello": "there"}, []])
def test_a_first_message_without_a_working_key_is_refused_4401(shop, first_message):
    async def body():
        socket = await opened()
        await socket.send_json_to(first_message)
        assert await closed_with(socket) == consumers.UNAUTHENTICATED

    scenario(body)


def test_a_revoked_key_is_4401_and_a_publishable_key_4403(shop):
    api_key_revoke(api_key=shop.secret_key.api_key)

    async def body(raw_key, code):
        socket = await opened()
        await socket.send_json_to({"apiKey": raw_key})
        assert await closed_with(socket) == code

    scenario(body, shop.secret_key.raw, consumers.UNAUTHENTICATED)
    scenario(body, shop.publishable_key.raw, consumers.FORBIDDEN)


def test_no_credentials_within_the_time_allowed_closes_4401(shop, monkeypatch):
    monkeypatch.setattr(consumers, "AUTH_TIMEOUT", 0.2)

    async def body():
        socket = await opened()
        assert await closed_with(socket) == consumers.UNAUTHENTICATED

    scenario(body)


def test_a_session_is_refused_an_app_it_cannot_see_or_without_the_permission_to_read_events(shop):
    async def body(path, cookie, code):
        socket = await opened(path, cookie)
        assert await closed_with(socket) == code

    cookie = session_cookie(superuser=False, permission=True)  # granted no app
    scenario(body, f"/ws/live?app={shop.app.id}", cookie, consumers.NOT_FOUND)
    scenario(body, "/ws/live?app=not-a-uuid", cookie, consumers.NOT_FOUND)
    get_user_model().objects.all().delete()
    without_permission = session_cookie(superuser=False, permission=False)
    scenario(body, f"/ws/live?app={shop.app.id}", without_permission, consumers.FORBIDDEN)


@pytest.mark.parametrize("role", ["viewer", "owner"])
def test_a_member_of_the_apps_organisation_listens_and_a_member_of_another_is_refused(shop, rival, role):
    def member_cookie(username, organisation) -> list[tuple[bytes, bytes]]:
        user = get_user_model().objects.create_user(username, f"{username}@example.com", "pw")
        membership_add(organisation=organisation, user=user, role=role)
        client = Client()
        client.force_login(user)
        return [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]

    async def hears(cookie):
        socket = await opened(f"/ws/live?app={shop.app.id}", cookie)
        assert (await next_of(socket, "hello"))["type"] == "hello"
        await socket.disconnect()

    async def refused(cookie):
        socket = await opened(f"/ws/live?app={shop.app.id}", cookie)
        assert await closed_with(socket) == consumers.NOT_FOUND

    scenario(hears, member_cookie("ada", shop.app.organisation))
    scenario(refused, member_cookie("mallory", rival.app.organisation))


def test_a_session_cookie_sent_from_another_sites_page_is_not_a_credential(shop, monkeypatch):
    monkeypatch.setattr(consumers, "AUTH_TIMEOUT", 0.2)
    cookie = session_cookie()

    async def body():
        socket = WebsocketCommunicator(
            application,
            f"/ws/live?app={shop.app.id}",
            headers=[(b"host", b"testserver"), (b"origin", b"https://evil.example"), *cookie],
        )
        assert (await socket.connect())[0]
        assert await closed_with(socket) == consumers.UNAUTHENTICATED

    scenario(body)


def test_no_event_of_another_app_ever_arrives(shop, rival):
    async def body():
        socket = await opened()
        await socket.send_json_to({"apiKey": shop.secret_key.raw})
        await next_of(socket, "hello")
        await sync_to_async(collect)(rival, ("rival event", "r_1", "/rival"))
        await sync_to_async(collect)(shop, ("shop event", "s_1", "/shop"))
        received = []
        while not any(m["type"] == "events" for m in received):
            received.append(await socket.receive_json_from(3))
        events = [event["name"] for m in received if m["type"] == "events" for event in m["events"]]
        assert events == ["shop event"]
        assert all(m.get("stored", 0) == 0 for m in received if m["type"] == "tick")
        await socket.disconnect()

    scenario(body)


def test_events_stored_by_the_buffered_worker_arrive_too(shop, drain):
    async def body():
        socket = await opened()
        await socket.send_json_to({"apiKey": shop.secret_key.raw})
        await next_of(socket, "hello")
        await sync_to_async(collect)(shop, ("queued", "u_1", "/later"))
        await sync_to_async(drain)()
        stored = await next_of(socket, "events")
        assert (stored["count"], stored["events"][0]["name"], stored["events"][0]["path"]) == (1, "queued", "/later")
        assert stored["events"][0]["timestamp"].endswith("Z")  # as the direct path's, from the buffer's text
        await socket.disconnect()

    scenario(body)
