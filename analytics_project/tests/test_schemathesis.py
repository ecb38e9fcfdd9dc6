"""Every operation of /api/schema/, fuzzed in process against this run's database and cache.

All of schemathesis's checks run on every response; the few that are wrong for an operation are
switched off for that operation only, in NOT_CHECKED, each for the reason given there.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from apikeys import services
from apikeys.keys import KeyKind
from organisations.services import membership_add

# Bounded and repeatable: a fixed number of cases per operation, the same ones on every run, and no
# shrinking (a failure is reported as first found).
CONFIG = SchemathesisConfig.from_dict({"generation": {"max-examples": 25, "deterministic": True, "no-shrink": True}})
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application(), config=CONFIG)

# These revoke or rotate the key they are called with: each case gets a key of its own, and aims at it.
OWN_KEY = ["/api/auth/revoke", "/api/auth/keys/{id}/revoke", "/api/auth/keys/{id}/regenerate"]

# A person's own operations, called with a personal key: a fresh one per case, aimed at by the revocation.
PERSONAL = ["/api/me", "/api/me/personal-keys", "/api/me/personal-keys/{id}/revoke"]

# Rules the server checks and the schema cannot state, so a schema-valid request may well get a 400:
# IANA zone names, the two-year range and its order, journey cursors, funnel properties, each event's
# own validation, "exactly one of apiKey and keyId", rate strings ("600/m"), a Segment message's
# required fields per type.
SEMANTIC = "a 400 for a rule the schema cannot state"
# DRF's CharField takes a number as its text (`"name": 0` is the name "0"); collect accepts an event
# with unknown fields and says so in `warnings`; Segment's and PostHog's endpoints, like theirs, ignore
# what they cannot use rather than refuse it (PostHog's /flags/ takes any `v`).
LENIENT = "lenient input, by design"
# Each PostHog path with and without its trailing slash.
POSTHOG_CAPTURE = [
    f"/{name}{end}" for name in ("e", "i/v0/e", "batch", "capture", "track", "engage") for end in ("/", "")
]
POSTHOG_FLAGS = [
    f"{method} /{name}{end}" for method in ("GET", "POST") for name in ("flags", "decide") for end in ("/", "")
]
NOT_CHECKED = {
    **{
        f"GET /api/analytics/{report}": {positive_data_acceptance: SEMANTIC}
        for report in [
            "active-users",
            "breakdown",
            "daily-stats",
            "event-summary",
            "export",
            "retention",
            "timeseries",
            "top-pages",
            "top-referrers",
            "user-stats",
            "users/{userId}/journey",
            "web-stats",
        ]
    },
    "POST /api/analytics/collect": {positive_data_acceptance: SEMANTIC, negative_data_rejection: LENIENT},
    "POST /api/analytics/funnels": {positive_data_acceptance: SEMANTIC},
    "POST /api/auth/revoke": {positive_data_acceptance: SEMANTIC},
    "POST /api/auth/keys": {positive_data_acceptance: SEMANTIC, negative_data_rejection: LENIENT},
    **{
        batch: {positive_data_acceptance: SEMANTIC, negative_data_rejection: LENIENT}
        for batch in ["POST /v1/batch", "POST /v1/b", "POST /beacon/v1/batch"]
    },
    "POST /v1/{kind}": {positive_data_acceptance: SEMANTIC, negative_data_rejection: LENIENT},
    **{
        f"POST {path}": {positive_data_acceptance: SEMANTIC, negative_data_rejection: LENIENT}
        for path in POSTHOG_CAPTURE
    },
    **{operation: {negative_data_rejection: LENIENT} for operation in POSTHOG_FLAGS},
    # Plausible refuses only a missing or unusable name, URL or domain, and ignores the fields it cannot read.
    "POST /api/event": {positive_data_acceptance: SEMANTIC, negative_data_rejection: LENIENT},
    # A random website id is Umami's 400 "Website not found."; a batch answers 200 naming its failed sends,
    # and 400 to no body at all, which a schema of a JSON array cannot require.
    "POST /api/send": {positive_data_acceptance: SEMANTIC},
    "POST /api/batch": {positive_data_acceptance: SEMANTIC, negative_data_rejection: LENIENT},
}


def _validate(case, raw_key: str) -> None:
    case.call_and_validate(
        headers={"X-API-Key": raw_key}, excluded_checks=list(NOT_CHECKED.get(case.operation.label, ()))
    )


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    # Django's test client does the same: otherwise the WSGI app closes the connection that holds the
    # test's transaction after each request (PostgreSQL; SQLite in memory ignores the close).
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _no_auth_lockout(settings):
    # schemathesis sends bad keys to every operation (ignored_auth), more from one IP than the per-IP
    # AUTH_FAILURE_RATE allows, and each should get its 401; the lockout itself is tested in apikeys.
    settings.AUTH_FAILURE_RATE = "100000/m"


@pytest.fixture
def secret_key(registered) -> str:
    return registered.secret_key.raw


@schema.exclude(path=OWN_KEY + PERSONAL).parametrize()
# One key for all the cases of an operation, on purpose: none of these operations can revoke it.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_operation_conforms_and_never_answers_5xx(case, secret_key):
    _validate(case, secret_key)


@schema.include(path=OWN_KEY).parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_key_revocation_conforms_with_a_fresh_key_per_case(case, registered):
    issued = services.api_key_create(app=registered.app, kind=KeyKind.SECRET)
    _aim_at(case, issued)
    _validate(case, issued.raw)


@schema.include(path=PERSONAL).parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_persons_own_operations_conform_with_a_fresh_personal_key_per_case(case, registered, django_user_model):
    user = django_user_model.objects.get_or_create(username="fuzzed", defaults={"email": "fuzzed@example.com"})[0]
    if not user.memberships.exists():
        membership_add(organisation=registered.app.organisation, user=user, role="viewer")
    issued = services.personal_key_create(user=user)
    _aim_at(case, issued)
    _validate(case, issued.raw)


def _aim_at(case, issued: services.IssuedKey) -> None:
    """A schema-valid case is aimed at the caller's own key; a negative one is left as generated, or
    putting a real id in place of its invalid one would make it valid."""
    if case.meta is None or case.meta.generation.mode is GenerationMode.POSITIVE:
        if "id" in (case.path_parameters or {}):
            case.path_parameters["id"] = str(issued.api_key.id)
        if isinstance(case.body, dict) and "keyId" in case.body:
            case.body["keyId"] = str(issued.api_key.id)
        if isinstance(case.body, dict) and "apiKey" in case.body:
            case.body["apiKey"] = issued.raw
