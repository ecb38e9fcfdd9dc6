"""PostHog's /flags/, /decide/ and remote config: "no flags", in the shapes the SDKs read."""

import json
import re
import uuid
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

from analytics_project.testing import run_node
from apikeys.keys import KeyKind, generate
from events.models import Event

FLAGS_V2_KEYS = {"flags", "errorsWhileComputingFlags", "quotaLimited", "requestId", "evaluatedAt"}
FLAGS_V1_KEYS = FLAGS_V2_KEYS - {"flags"} | {"featureFlags", "featureFlagPayloads"}


@pytest.fixture
def ask(api_client, registered):
    def request(path: str, *, method: str = "post", body=None, **extra):
        if method == "get":
            return api_client.get(path, HTTP_X_API_KEY=registered.publishable_key.raw, **extra)
        payload = {"token": registered.publishable_key.raw, "distinct_id": "u_42"} if body is None else body
        return api_client.post(path, json.dumps(payload), content_type="application/json", **extra)

    return request


@pytest.mark.parametrize("path", ["/flags/?v=2", "/flags?v=2", "/flags/?v=3&config=false"])
def test_flags_v2_answers_no_flags_and_no_errors(ask, path):
    response = ask(path)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == FLAGS_V2_KEYS
    assert (body["flags"], body["errorsWhileComputingFlags"], body["quotaLimited"]) == ({}, False, [])
    uuid.UUID(body["requestId"])
    assert isinstance(body["evaluatedAt"], int)


@pytest.mark.parametrize("path", ["/flags/", "/flags/?v=1", "/flags/?v=next"])
def test_flags_before_v2_or_with_any_other_version_answers_feature_flags(ask, path):
    body = ask(path).json()
    assert set(body) == FLAGS_V1_KEYS
    assert (body["featureFlags"], body["featureFlagPayloads"]) == ({}, {})


def test_flags_by_get_with_the_key_in_a_header_answers_the_same(ask):
    assert set(ask("/flags/?v=2", method="get").json()) == FLAGS_V2_KEYS


def test_flags_with_config_true_adds_the_remote_config(ask):
    body = ask("/flags/?v=2&config=true").json()
    assert body["flags"] == {} and body["hasFeatureFlags"] is False and body["sessionRecording"] is False


@pytest.mark.parametrize(("version", "flags_key"), [("3", "featureFlags"), ("4", "flags")])
def test_legacy_decide_answers_no_flags_with_the_config_posthog_js_reads(ask, version, flags_key):
    body = ask(f"/decide/?v={version}").json()
    assert body[flags_key] == {} and body["errorsWhileComputingFlags"] is False
    assert body["supportedCompression"] == ["gzip", "gzip-js"]
    assert (body["sessionRecording"], body["heatmaps"], body["siteApps"]) == (False, False, [])
    assert "surveys" not in body  # posthog-js would fetch the surveys bundle to show none
    assert body["config"] == {"enable_collect_everything": True}


def test_flags_without_a_token_is_401_and_with_an_unknown_one_too(api_client, db):
    for body in ({"distinct_id": "u_42"}, {"token": generate(KeyKind.PUBLISHABLE).raw}):
        response = api_client.post("/flags/?v=2", json.dumps(body), content_type="application/json")
        assert response.status_code == 401
        assert response.json()["type"] == "authentication_error"


def test_a_flags_body_that_cannot_be_read_is_400_even_with_the_key_in_a_header(api_client, registered):
    response = api_client.post(
        "/flags/?v=2", b"\x00{not json", content_type="application/json", HTTP_X_API_KEY=registered.secret_key.raw
    )
    assert (response.status_code, response.json()["code"]) == (400, "malformed_json")


def test_asking_for_flags_stores_no_event(ask):
    ask("/flags/?v=2")
    ask("/decide/?v=3")
    assert Event.objects.count() == 0


def test_the_remote_config_json_turns_off_what_this_server_does_not_store(api_client):
    response = api_client.get("/array/phc_anything/config")
    assert response.status_code == 200
    config = response.json()
    assert config["token"] == "phc_anything"
    assert config["hasFeatureFlags"] is False  # posthog-js then never calls /flags/
    assert config["analytics"] == {"endpoint": "/i/v0/e/"}
    assert (config["sessionRecording"], config["heatmaps"], config["capturePerformance"]) == (False, False, False)
    assert "surveys" not in config
    assert "max-age" in response["Cache-Control"]


def test_the_remote_config_script_sets_the_global_posthog_js_reads_for_its_token(api_client, sdk_modules):
    response = api_client.get('/array/pk_x"y/config.js')
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    script = response.content.decode()
    # Run it as a browser would, the token with a quote in it kept a string, and read the global back.
    loaded = json.loads(
        run_node(f"global.window = {{}};\n{script}\nconsole.log(JSON.stringify(window._POSTHOG_REMOTE_CONFIG))")
    )
    assert list(loaded) == ['pk_x"y']
    assert loaded['pk_x"y']["config"] == api_client.get('/array/pk_x"y/config').json()


def test_a_preflight_for_posthog_js_headers_is_allowed_from_any_origin(api_client):
    response = api_client.options(
        "/i/v0/e/",
        HTTP_ORIGIN="https://shop.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type",
    )
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "https://shop.example"
    assert re.search(r"\bPOST\b", response["Access-Control-Allow-Methods"])
    assert response["Access-Control-Allow-Headers"] == "content-type"


def test_the_posthog_js_this_server_serves_is_the_pinned_release(sdk_modules):
    """/static/array.js is posthog-js's own file at the version the suite tests, so a bump of the pin
    without a new copy fails here. Its sourceMappingURL line is left out: there is no map to collect."""
    released = (sdk_modules / "posthog-js" / "dist" / "array.js").read_text()
    served = Path(finders.find("array.js")).read_text()
    assert served == released.replace("\n//# sourceMappingURL=array.js.map", "\n").removesuffix("\n") + "\n"
