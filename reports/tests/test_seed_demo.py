"""seed_demo's data reads as a shop's would: a funnel that converts partly, retention that decays."""

import io
from datetime import timedelta
from zoneinfo import ZoneInfo

from django.core.management import call_command
from django.utils import timezone

from apikeys.models import App
from reports.params import Window
from reports.queries import funnels, rankings, retention


def test_seed_demo_makes_a_partially_converting_funnel_and_decaying_retention(db):
    output = io.StringIO()
    call_command("seed_demo", "--events", "6000", "--days", "60", "--seed", "3", stdout=output)
    assert "stored 6,000 events" in output.getvalue()
    app = App.objects.get(name="Demo shop")
    now, utc = timezone.now(), ZoneInfo("UTC")
    funnel = funnels.funnel(
        app_id=app.pk,
        window=Window(now - timedelta(days=61), now + timedelta(minutes=1), utc),
        steps=[funnels.FunnelStep(name) for name in ["view_pricing", "signup_started", "signup_completed", "purchase"]],
        window_seconds=61 * 86400,
    )
    counts = [step.count for step in funnel.steps]
    assert counts[0] > counts[1] > counts[2] > counts[3] > 0, counts
    cohorts = retention.retention(
        app_id=app.pk,
        window=Window(now - timedelta(weeks=9), now - timedelta(weeks=3), utc),
        cohort_event=None,
        return_event=None,
        period="week",
        periods=3,
    ).cohorts
    cohorts = [cohort for cohort in cohorts if cohort.size]
    retained = [sum(c.periods[k].users for c in cohorts) / sum(c.size for c in cohorts) for k in range(4)]
    assert retained[0] == 1 and retained[0] > retained[1] > retained[2] > retained[3] > 0, retained
    devices = rankings.breakdown(
        app_id=app.pk,
        window=Window(now - timedelta(days=61), now + timedelta(minutes=1), utc),
        event=None,
        by="device",
        limit=10,
    )
    assert len(devices.values) >= 3
