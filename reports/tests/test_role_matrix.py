"""The role matrix, generated from the one permission table (organisations.permissions.OPERATIONS):
every report endpoint by every role, a person of no organisation and a member of another organisation,
each with a personal key; and every dashboard page by the same callers, signed in. A role the table allows
gets the report; a member whose role does not allow the endpoint's operation gets 403; anyone else gets
404, as for an app that does not exist.

Built to fail on what it does not know: the endpoints are found by walking the URL resolver, and each must
have a call below and an operation in the table."""

from dataclasses import dataclass, field

import pytest
from django.urls import URLResolver, get_resolver, reverse

from events.views import CollectViewSet
from organisations.models import Role
from organisations.permissions import OPERATIONS, ROLE_ORDER, role_allows
from reports import dashboard_urls, views
from reports.panels import PANELS
from reports.tests.conftest import event

NON_MEMBER, OTHER_ORGANISATION = "non-member", "member of another organisation"
CALLERS = [*ROLE_ORDER, NON_MEMBER, OTHER_ORGANISATION]
FUNNEL = {"steps": [{"event": "page_view"}, {"event": "signup"}]}


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    params: dict = field(default_factory=dict)


REPORT_CALLS = {
    views.EventSummaryViewSet: Call("get", "event-summary"),
    views.UserStatsViewSet: Call("get", "user-stats", {"userId": "u1"}),
    views.DailyStatsViewSet: Call("get", "daily-stats"),
    views.TimeseriesViewSet: Call("get", "timeseries"),
    views.TopPagesViewSet: Call("get", "top-pages"),
    views.TopReferrersViewSet: Call("get", "top-referrers"),
    views.BreakdownViewSet: Call("get", "breakdown", {"by": "browser"}),
    views.ActiveUsersViewSet: Call("get", "active-users"),
    views.WebStatsViewSet: Call("get", "web-stats"),
    views.ExportViewSet: Call("get", "export"),
    views.FunnelViewSet: Call("post", "funnels", FUNNEL),
    views.RetentionViewSet: Call("get", "retention"),
    views.JourneyViewSet: Call("get", "users/u1/journey"),
    views.LiveViewSet: Call("get", "live"),
}
INGESTION = {CollectViewSet}  # under /api/analytics/ too, and for app keys only


def _routes():
    def walk(resolver, prefix=""):
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern), getattr(pattern.callback, "cls", None)

    return list(walk(get_resolver()))


@pytest.fixture
def analytics_store():
    """The Django store only: who may read is decided before any store is asked."""
    return "django"


def test_every_analytics_endpoint_is_in_the_matrix_with_an_operation_of_the_table():
    found = {view for route, view in _routes() if route.startswith("^api/analytics/")}
    assert found - INGESTION == set(REPORT_CALLS), "a report endpoint the role matrix does not call"
    for view in found - INGESTION:
        assert issubclass(view, views.ReportViewSet), f"{view.__name__} is not a ReportViewSet"
        assert view.operation in OPERATIONS, f"{view.__name__}.operation {view.operation!r} has no rule"


def test_the_export_needs_more_than_reading():
    assert views.ExportViewSet.operation == "export"
    assert {view.operation for view in REPORT_CALLS} == {"reports.read", "export"}


def _caller(kind, person, registered, other_app):
    if kind == NON_MEMBER:
        return person("stranger")
    if kind == OTHER_ORGANISATION:
        return person("elsewhere", organisation=other_app.app.organisation, role=Role.OWNER)
    return person(kind.value, organisation=registered.app.organisation, role=kind)


def _request(client, call: Call, app_id):
    params = {**call.params, "appId": str(app_id)}
    if call.method == "post":
        response = client.post(f"/api/analytics/{call.path}", params, format="json")
    else:
        response = client.get(f"/api/analytics/{call.path}", params)
    if response.streaming:
        b"".join(response.streaming_content)
    return response


def _expected(kind, operation: str) -> tuple[int, str | None]:
    if kind in (NON_MEMBER, OTHER_ORGANISATION):
        return 404, "not_found"
    return (200, None) if role_allows(kind, operation) else (403, "role_required")


@pytest.mark.parametrize("caller", CALLERS, ids=str)
@pytest.mark.parametrize("view", REPORT_CALLS, ids=lambda view: REPORT_CALLS[view].path)
def test_role_matrix(view, caller, person, registered, other_app, send):
    send(registered, [event()])
    response = _request(_caller(caller, person, registered, other_app).client, REPORT_CALLS[view], registered.app.id)
    status, code = _expected(caller, view.operation)
    assert response.status_code == status, response.content[:300]
    if code:
        assert response.json()["code"] == code


@pytest.mark.parametrize("role", ROLE_ORDER, ids=str)
def test_a_member_of_one_organisation_gets_404_for_another_organisations_app_everywhere(
    role, person, registered, other_app, send
):
    """Tenant isolation: B's app, with events, is invisible to every role of A, on every report endpoint."""
    send(other_app, [event(), event(userId="u2")])
    member = person("a-member", organisation=registered.app.organisation, role=role)
    for view, call in REPORT_CALLS.items():
        response = _request(member.client, call, other_app.app.id)
        assert (response.status_code, response.json()["code"]) == (404, "not_found"), view.__name__


def test_an_app_id_that_does_not_exist_looks_the_same_as_one_the_person_cannot_see(person, registered, other_app):
    member = person("a-member", organisation=registered.app.organisation, role=Role.OWNER)
    unknown = _request(member.client, REPORT_CALLS[views.EventSummaryViewSet], "00000000-0000-4000-8000-000000000000")
    hidden = _request(member.client, REPORT_CALLS[views.EventSummaryViewSet], other_app.app.id)
    assert (unknown.status_code, unknown.json()) == (hidden.status_code, hidden.json())


PERSONAL_CALLS = {"^api/me$": "/api/me", "^api/me/personal-keys$": "/api/me/personal-keys"}


@pytest.mark.parametrize("caller", CALLERS, ids=str)
def test_every_person_reads_their_own_account_whatever_their_roles(caller, person, registered, other_app):
    """The person's own endpoints belong to no organisation: any person may use them, for themselves."""
    routes = {route for route, view in _routes() if route.startswith("^api/me")}
    assert {route for route in routes if "(?P<pk>" not in route} == set(PERSONAL_CALLS)
    client = _caller(caller, person, registered, other_app).client
    for path in PERSONAL_CALLS.values():
        assert client.get(path).status_code == 200, path


@dataclass(frozen=True)
class Page:
    method: str
    operation: str
    data: dict = field(default_factory=dict)
    args: tuple = ()  # after the app id


# Every dashboard page of one app, by its URL name, with the operation it needs of a member.
DASHBOARD_PAGES = {
    "app-detail": Page("get", "reports.read"),
    **{f"app-panel/{name}": Page("get", "reports.read", args=(name,)) for name in PANELS},
    "app-live": Page("get", "reports.read"),
    "app-export": Page("get", "export"),
    "app-goals": Page("post", "goals.manage", {"kind": "event", "value": "signup"}),
}


def test_every_dashboard_page_is_in_the_matrix_with_an_operation_of_the_table():
    names = {name.split("/")[0] for name in DASHBOARD_PAGES}
    assert {pattern.name for pattern in dashboard_urls.urlpatterns} == {"app-list", *names}
    for name, page in DASHBOARD_PAGES.items():
        assert page.operation in OPERATIONS, f"{name} needs {page.operation!r}, which has no rule"


@pytest.mark.parametrize("caller", CALLERS, ids=str)
@pytest.mark.parametrize("name", DASHBOARD_PAGES)
def test_dashboard_role_matrix(name, caller, client, person, registered, other_app, send):
    send(registered, [event()])
    client.force_login(_caller(caller, person, registered, other_app).user)
    page = DASHBOARD_PAGES[name]
    url = reverse(f"dashboard:{name.split('/')[0]}", args=[registered.app.pk, *page.args])
    response = client.post(url, page.data) if page.method == "post" else client.get(url)
    if response.streaming:
        b"".join(response.streaming_content)
    if caller in (NON_MEMBER, OTHER_ORGANISATION):
        assert response.status_code == 404
    elif role_allows(caller, page.operation):
        assert response.status_code == (302 if page.method == "post" else 200)
    else:
        assert response.status_code == 403
        assert page.operation in response.content.decode()


@pytest.mark.parametrize("caller", CALLERS, ids=str)
def test_the_dashboard_lists_the_app_to_every_role_of_its_organisation_and_to_no_one_else(
    caller, client, person, registered, other_app
):
    client.force_login(_caller(caller, person, registered, other_app).user)
    listed = registered.app.name in client.get("/dashboard/").content.decode()
    assert listed == (caller not in (NON_MEMBER, OTHER_ORGANISATION))


@pytest.mark.parametrize("role", ROLE_ORDER, ids=str)
def test_the_app_page_offers_only_what_the_role_allows(role, client, person, registered):
    client.force_login(person("a-member", organisation=registered.app.organisation, role=role).user)
    page = client.get(reverse("dashboard:app-detail", args=[registered.app.pk])).content.decode()
    goals = client.get(reverse("dashboard:app-panel", args=[registered.app.pk, "goals"])).content.decode()
    assert ('data-testid="export"' in page) == role_allows(role, "export")
    assert ('data-testid="goal-form"' in goals) == role_allows(role, "goals.manage")
