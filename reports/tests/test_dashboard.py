import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from events.services import RequestFacts, events_ingest
from reports.panels import PANELS
from reports.tests.conftest import may_read_events
from reports.tests.pages import whole_page


def ingest(registered, events):
    facts = RequestFacts(
        api_key=registered.secret_key.api_key, ip="127.0.0.1", user_agent="", received_at=timezone.now(), source="api"
    )
    return events_ingest(raw_events=events, facts=facts)


@pytest.fixture
def staff(db, registered):
    user = may_read_events(User.objects.create_user("analyst", password="pw-for-tests-only", is_staff=True))
    registered.app.operators.add(user)
    return user


def test_a_visitor_who_is_not_signed_in_is_sent_to_sign_in(client, db, registered):
    for path in [
        "/dashboard/",
        f"/dashboard/apps/{registered.app.pk}/",
        f"/dashboard/apps/{registered.app.pk}/panels/totals",
    ]:
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=/dashboard/")


def test_a_person_of_no_organisation_sees_no_app(client, db, registered):
    client.force_login(User.objects.create_user("customer", password="pw-for-tests-only"))
    assert registered.app.name not in client.get("/dashboard/").content.decode()
    for path in [f"/dashboard/apps/{registered.app.pk}/", f"/dashboard/apps/{registered.app.pk}/panels/totals"]:
        assert client.get(path).status_code == 404


def test_staff_who_may_not_view_events_get_a_403_on_every_page(client, db, registered):
    user = User.objects.create_user("key-clerk", password="pw-for-tests-only", is_staff=True)
    registered.app.operators.add(user)
    client.force_login(user)
    app_page = f"/dashboard/apps/{registered.app.pk}/"
    paths = ["/dashboard/", app_page, f"{app_page}live", f"{app_page}panels/totals"]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 403, path
        assert "events.view_event" in response.content.decode()
    may_read_events(user)
    assert [client.get(path).status_code for path in paths] == [200, 200, 200, 200]


def test_the_app_list_shows_24_hour_and_7_day_counts_of_granted_apps_only(client, staff, registered, other_app):
    now = timezone.now()
    ingest(
        registered, [{"event": "e", "timestamp": (now - timedelta(hours=h)).isoformat()} for h in (1, 5, 30, 100, 200)]
    )
    client.force_login(staff)
    page = client.get("/dashboard/").content.decode()
    assert registered.app.name in page and other_app.app.name not in page
    assert re.search(r'data-testid="count-24h">2<', page)
    assert re.search(r'data-testid="count-7d">4<', page)


def test_an_app_that_is_not_granted_is_404(client, staff, other_app):
    client.force_login(staff)
    for path in ["", "panels/totals", "panels/pages", "live", "export.csv"]:
        assert client.get(f"/dashboard/apps/{other_app.app.pk}/{path}").status_code == 404, path


def test_the_page_arrives_without_figures_and_each_panel_brings_its_own(client, staff, registered):
    ingest(registered, [{"event": "pageview", "url": "https://example.com/pricing"}])
    client.force_login(staff)
    shell = client.get(f"/dashboard/apps/{registered.app.pk}/?range=7d&f=path:/pricing").content.decode()
    assert 'data-testid="total-events"' not in shell
    assert '<input type="hidden" name="f" value="path:/pricing">' in shell  # the date form keeps the filter
    sources = re.findall(r'data-panel-src="([^"]+)"', shell)
    assert len(sources) == len(PANELS) and all("?range=7d&amp;f=path%3A%2Fpricing" in src for src in sources)
    totals = client.get(f"/dashboard/apps/{registered.app.pk}/panels/totals?range=7d&f=path:/pricing")
    assert re.search(r'data-testid="total-events">1<', totals.content.decode())
    assert "<html" not in totals.content.decode()  # a fragment, not a page
    assert client.get(f"/dashboard/apps/{registered.app.pk}/panels/no-such-panel").status_code == 404
    assert "?range=7d&amp;f=path%3A%2Fpricing&amp;inline=1" in shell  # the <noscript> way to the figures
    whole = client.get(f"/dashboard/apps/{registered.app.pk}/?range=7d&f=path:/pricing&inline=1").content.decode()
    assert "data-panel-src=" not in whole and re.search(r'data-testid="total-events">1<', whole)
    assert whole.count('data-loaded="true"') == len(PANELS)


def test_the_visits_panel_shows_the_web_stats_report_and_its_pages_filter_the_page(
    client, staff, registered, secret_client
):
    start = timezone.now() - timedelta(hours=3)
    visits = {
        "a": [(0, "/"), (5, "/pricing"), (9, "/thanks")],
        "b": [(0, "/pricing")],  # a bounce
        "c": [(0, "/"), (50, "/docs")],  # two visits, 50 minutes apart: two bounces
    }
    ingest(
        registered,
        [
            {
                "event": "pageview",
                "userId": user,
                "url": f"https://example.com{path}",
                "timestamp": (start + timedelta(minutes=minute)).isoformat(),
            }
            for user, views in visits.items()
            for minute, path in views
        ],
    )
    client.force_login(staff)
    panel = client.get(f"/dashboard/apps/{registered.app.pk}/panels/visits").content.decode()
    api = secret_client.get("/api/analytics/web-stats").json()
    assert (api["visits"], api["visitors"], api["pageViews"], api["bounces"]) == (4, 3, 6, 3)
    for testid, shown in [
        ("visitors", "3"),
        ("visits", "4"),
        ("page-views", "6"),
        ("views-per-visit", "1.50"),
        ("bounce-rate", "75%"),
        ("visit-duration", "2 min"),  # (9 + 0 + 0 + 0) minutes over 4 visits
    ]:
        assert re.search(rf'data-testid="{testid}"[^>]*>{re.escape(shown)}<', panel), testid
    entries = re.search(r'data-testid="entry-pages">(.*?)</table>', panel, re.S).group(1)
    assert re.findall(r'title="Show only this">([^<]+)</a></td><td class="n">(\d+)<', entries) == [
        (row["value"], str(row["visits"])) for row in api["entryPages"]
    ]
    assert 'href="?f=path%3A%2Fpricing"' in entries


def test_the_app_page_shows_the_same_figures_as_the_report_api(client, staff, registered, secret_client):
    now = timezone.now()
    events = [
        {
            "event": "pageview",
            "userId": f"u{i % 3}",
            "url": f"https://shop.example/{'pricing' if i % 2 else 'home'}",
            "timestamp": (now - timedelta(days=i % 4, minutes=5)).isoformat(),
        }
        for i in range(12)
    ]
    ingest(registered, events)
    client.force_login(staff)
    page = whole_page(client, f"/dashboard/apps/{registered.app.pk}/")
    api = secret_client.get("/api/analytics/event-summary").json()
    assert re.search(rf'data-testid="total-events">{api["count"]}<', page)
    assert re.search(rf'data-testid="unique-users">{api["uniqueUsers"]}<', page)
    days = secret_client.get("/api/analytics/daily-stats").json()
    assert page.count('class="point"') == len(days) == 30
    top = secret_client.get("/api/analytics/top-pages", {"event": "pageview"}).json()[0]  # the page counts views
    link = rf'<a href="[^"]*" title="Show only this">{re.escape(top["value"])}</a>'
    assert re.search(rf'<td>{link}</td><td class="n">{top["count"]}</td>', page)


def test_a_bad_date_shows_an_error_and_the_default_range(client, staff, registered):
    client.force_login(staff)
    response = client.get(f"/dashboard/apps/{registered.app.pk}/?startDate=yesterday")
    assert response.status_code == 200
    assert 'class="error"' in response.content.decode()


def test_the_funnel_builder_and_retention_table_show_the_selectors_figures(client, staff, registered):
    now = timezone.now()
    ingest(
        registered,
        [
            {"event": "view", "userId": "a", "timestamp": (now - timedelta(hours=3)).isoformat()},
            {"event": "buy", "userId": "a", "timestamp": (now - timedelta(hours=2)).isoformat()},
            {"event": "view", "userId": "b", "timestamp": (now - timedelta(hours=3)).isoformat()},
        ],
    )
    client.force_login(staff)
    page = whole_page(client, f"/dashboard/apps/{registered.app.pk}/?funnel=view,buy&funnelDays=1")
    funnel = page[page.index('data-testid="funnel"') :]
    bar = r'<td class="bar-cell"><div class="bar" data-testid="funnel-bar" style="width:(\d+)%"></div>(.*?)</td>'
    assert re.search(rf'<td>view</td>{bar}<td class="n">2</td>', funnel).groups() == ("100", "")
    buy = re.search(rf'<td>buy</td>{bar}<td class="n">1</td>\s*<td class="n">50%</td>', funnel)
    assert buy.group(1) == "50" and ">−1</div>" in buy.group(2)  # one of two dropped
    retention = page[page.index('data-testid="retention"') :]
    shaded = r'<td class="n">2</td>\s*<td class="n shade" title="2 users" style="--rate:100%">100%</td>'
    assert re.search(shaded, retention)


def test_a_one_step_funnel_shows_a_hint_instead_of_figures(client, staff, registered):
    client.force_login(staff)
    page = whole_page(client, f"/dashboard/apps/{registered.app.pk}/?funnel=view")
    assert "2 to 10 steps" in page and 'data-testid="funnel"' not in page


def test_the_app_page_counts_recent_users_and_links_the_live_view(client, staff, registered):
    ingest(registered, [{"event": "tick", "userId": user} for user in ("a", "b", "a")])
    client.force_login(staff)
    page = whole_page(client, f"/dashboard/apps/{registered.app.pk}/")
    assert re.search(r'data-testid="live-users">2<', page)
    assert f'href="/dashboard/apps/{registered.app.pk}/live"' in page


def test_the_live_view_opens_with_the_figures_now_and_escapes_what_browsers_sent(client, staff, registered):
    ingest(
        registered, [{"event": "<img src=x onerror=alert(1)>", "userId": u, "url": "https://s.example/p"} for u in "ab"]
    )
    client.force_login(staff)
    page = client.get(f"/dashboard/apps/{registered.app.pk}/live").content.decode()
    assert re.search(r'data-testid="live-visitors">2<', page)
    assert "<td>/p</td>" in page and "&lt;img src=x onerror=alert(1)&gt;" in page and "<img src=x" not in page
    assert f'data-app="{registered.app.pk}"' in page


def test_a_cohort_with_no_users_shows_a_dash_not_zero_percent(client, staff, registered):
    now = timezone.now()
    ingest(registered, [{"event": "view", "userId": "a", "timestamp": (now - timedelta(days=3)).isoformat()}])
    client.force_login(staff)
    start = (now - timedelta(days=5)).date().isoformat()
    page = whole_page(client, f"/dashboard/apps/{registered.app.pk}/?period=day&startDate={start}")
    table = page[page.index('data-testid="retention"') :]
    rows = re.findall(r"<tr><td>(\d{4}-\d\d-\d\d)</td><td class=\"n\">(\d+)</td>(.*?)</tr>", table, re.S)
    sizes = {day: int(size) for day, size, _ in rows}
    assert sizes[(now - timedelta(days=3)).date().isoformat()] == 1 and 0 in sizes.values(), sizes
    for _, size, cells in rows:
        if size == "0":
            assert "%" not in cells and "users" not in cells and "—" in cells
        else:
            assert "—" not in cells and "100%" in cells


def test_the_chart_labels_its_first_and_last_day(client, staff, registered):
    client.force_login(staff)
    page = whole_page(client, f"/dashboard/apps/{registered.app.pk}/?startDate=2026-01-01&endDate=2026-01-31")
    assert re.search(r'data-testid="x-first"[^>]*>2026-01-01<', page)
    assert re.search(r'data-testid="x-last"[^>]*>2026-01-31<', page)
