from datetime import date

import pytest

from events.cors import origin_allowed
from events.enrichment import anonymize_ip, anonymous_distinct_id, referrer_host, url_facts, user_agent_facts
from events.tests.conftest import IPHONE, WINDOWS_CHROME


@pytest.mark.parametrize(
    ("user_agent", "browser", "os", "device_type"),
    [
        (WINDOWS_CHROME, "Chrome", "Windows", "desktop"),
        (IPHONE, "Mobile Safari", "iOS", "mobile"),
        (
            "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/16.6 Mobile/15E148 Safari/604.1",
            "Mobile Safari",
            "iOS",
            "tablet",
        ),
        (
            "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0.0.0 Safari/537.36",
            "Chrome",
            "Android",
            "tablet",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0.0.0 Mobile Safari/537.36",
            "Chrome Mobile",
            "Android",
            "mobile",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.0 Safari/605.1.15",
            "Safari",
            "Mac OS X",
            "desktop",
        ),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot", "", "bot"),
        ("curl/8.4.0", "curl", "", "bot"),
        ("", "", "", ""),
    ],
)
def test_user_agents_are_classified(user_agent, browser, os, device_type):
    facts = user_agent_facts(user_agent)
    assert (facts.browser, facts.os, facts.device_type) == (browser, os, device_type)


def test_url_facts_split_host_path_and_utm():
    facts = url_facts("https://Shop.Example:8443/a/b/?utm_source=x&utm_term=t%20u&other=1#frag")
    assert (facts.host, facts.path) == ("shop.example", "/a/b/")
    assert facts.utm == {"utm_source": "x", "utm_medium": "", "utm_campaign": "", "utm_term": "t u", "utm_content": ""}
    assert url_facts("https://shop.example").path == "/"
    assert url_facts("https://shop.example/#/cart?x=1", hash_routing=True).path == "/#/cart?x=1"
    assert url_facts("https://shop.example/a", hash_routing=True).path == "/a"  # no fragment, nothing added
    assert url_facts("").host == ""


@pytest.mark.parametrize("url", ["http://[::1", "http://[bad]/a?utm_source=x", "https://[::1/path"])
def test_a_url_urlsplit_refuses_has_no_host_path_or_utm(url):
    facts = url_facts(url)
    assert (facts.host, facts.path) == ("", "")
    assert set(facts.utm.values()) == {""}
    assert referrer_host(url) == ""


def test_referrer_host():
    assert referrer_host("https://news.ycombinator.com/item?id=1") == "news.ycombinator.com"
    assert referrer_host("") == ""


@pytest.mark.parametrize(
    ("referrer", "page_host", "expected"),
    [
        ("https://shop.example/a", "shop.example", ""),  # the site's own previous page
        ("https://www.shop.example/", "shop.example", ""),
        ("https://shop.example/", "WWW.shop.example", ""),
        ("https://blog.shop.example/post", "shop.example", "blog.shop.example"),  # another site of the owner's
        ("https://news.example/", "shop.example", "news.example"),
        ("https://news.example/", "", "news.example"),  # no page URL: nothing to compare with
    ],
)
def test_a_site_never_refers_itself(referrer, page_host, expected):
    assert referrer_host(referrer, page_host) == expected


def test_ip_anonymisation():
    assert anonymize_ip("192.0.2.123") == "192.0.2.0"
    assert anonymize_ip("2001:db8:abcd:12::1") == "2001:db8:abcd::"


def test_visitor_hash_changes_with_the_day_and_the_app():
    base = {"secret": "s", "app_id": "a", "day": date(2026, 1, 1), "ip": "192.0.2.1", "user_agent": "ua"}
    same = anonymous_distinct_id(**base)
    assert same == anonymous_distinct_id(**base)
    assert same != anonymous_distinct_id(**{**base, "day": date(2026, 1, 2)})
    assert same != anonymous_distinct_id(**{**base, "app_id": "b"})
    assert "192.0.2.1" not in same


@pytest.mark.parametrize(
    ("origin", "domains", "allowed"),
    [
        ("https://shop.example", [], True),
        ("https://shop.example", ["shop.example"], True),
        ("http://localhost:3000", ["localhost:3000"], True),
        ("http://localhost:3001", ["localhost:3000"], False),
        ("http://localhost:3001", ["localhost"], True),
        ("https://a.b.shop.example", ["*.shop.example"], True),
        ("https://evilshop.example", ["*.shop.example"], False),
        ("https://www.shop.example", ["shop.example"], False),
        ("null", ["shop.example"], False),
        ("http://x:99999", ["x"], False),  # port out of range
        ("http://[bad", ["shop.example"], False),  # unclosed IPv6 bracket
        ("http://[::1]:3000", ["localhost:3000"], False),
    ],
)
def test_origin_allow_list(origin, domains, allowed):
    assert origin_allowed(origin, domains) is allowed
