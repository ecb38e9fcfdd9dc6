import uuid
from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from clickhouse_store import testing
from reports.dialect.clickhouse import ClickHouse
from reports.tests.stores import Mirror, MirroredClickHouse

COLLECT = "/api/analytics/collect"
REPORTS = "/api/analytics/"
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36"
)
FIREFOX_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) Gecko/20100101 Firefox/121.0"
# What enrichment derives from each (device type, browser, OS): the reports group these stored values.
USER_AGENTS = {
    CHROME_WINDOWS: ("desktop", "Chrome", "Windows"),
    SAFARI_IPHONE: ("mobile", "Mobile Safari", "iOS"),
    CHROME_ANDROID: ("mobile", "Chrome Mobile", "Android"),
    FIREFOX_MAC: ("desktop", "Firefox", "Mac OS X"),
    None: ("", "", ""),  # the test client sends no User-Agent header
}


@pytest.fixture(scope="session")
def report_clickhouse(tmp_path_factory):
    """The ClickHouse the report tests read: CLICKHOUSE_URL's server when there is one (CI's
    PostgreSQL run), else the current engine in process (chdb)."""
    url = testing.server_url_from_environment()
    if url is None:
        yield testing.chdb_database(tmp_path_factory.getbasetemp() / "chdb")
        return
    client = testing.fresh_server_database(testing.server_test_url(url) + "_reports")
    yield client
    testing.drop_database(client)


@pytest.fixture(autouse=True, params=["django", "clickhouse"])
def analytics_store(request, settings):
    """Every report test runs on the Django database and on ClickHouse (a module that reads no
    reports overrides this fixture)."""
    if request.param == "clickhouse":
        mirror = Mirror(request.getfixturevalue("report_clickhouse"))
        settings.ANALYTICS_STORE = "clickhouse"
        request.getfixturevalue("monkeypatch").setattr(ClickHouse, "for_settings", lambda: MirroredClickHouse(mirror))
    return request.param


def event(**fields) -> dict:
    return {"event": "page_view", "eventId": str(uuid.uuid4()), "userId": "u1", **fields}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


@pytest.fixture
def send(client_for):
    """Ingest events through the real collect endpoint, in batches of at most 1000."""

    def post(registered, events: list[dict]) -> None:
        client = client_for(registered.secret_key.raw)
        for start in range(0, len(events), 1000):
            response = client.post(COLLECT, {"events": events[start : start + 1000]}, format="json")
            assert response.status_code == 201, response.content
            assert not response.json()["rejected"], response.json()["rejected"]

    return post


@pytest.fixture
def report(client_for):
    """GET a report with an app's secret key: report(registered, "daily-stats", startDate=...)."""

    def get(registered, name: str, **params):
        return client_for(registered.secret_key.raw).get(REPORTS + name, params)

    return get


def view_event() -> Permission:
    """What staff need, besides an app granted to them, to read its reports and dashboard."""
    return Permission.objects.get(content_type__app_label="events", codename="view_event")


def may_read_events(user):
    user.user_permissions.add(view_event())
    return user


@pytest.fixture
def staff_user(db):
    return may_read_events(
        get_user_model().objects.create_user("operator", "operator@example.com", "pw", is_staff=True)
    )


@pytest.fixture
def staff_client(api_client, staff_user):
    api_client.force_login(staff_user)
    return api_client
