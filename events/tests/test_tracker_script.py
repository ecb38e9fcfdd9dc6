"""How /t.js is served: minified, gzipped when asked, with validators every worker agrees on."""

import gzip
import importlib

from events import tracker

SCRIPT = "/t.js"


def test_the_script_is_minified_javascript_and_gzipped_for_clients_that_accept_it(client):
    plain = client.get(SCRIPT)
    zipped = client.get(SCRIPT, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert plain.status_code == zipped.status_code == 200
    assert plain["Content-Type"].startswith("application/javascript")
    assert "Content-Encoding" not in plain and zipped["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.content) == plain.content
    assert len(plain.content) < 0.75 * len(tracker.SOURCE.read_bytes())  # comments and indentation gone
    assert b"uea" in plain.content and b"/* Unified" not in plain.content
    assert "Accept-Encoding" in plain["Vary"] and "Accept-Encoding" in zipped["Vary"]


def test_the_validators_depend_on_the_script_alone_and_answer_304(client):
    first = client.get(SCRIPT, HTTP_ACCEPT_ENCODING="gzip")
    assert first["ETag"] == tracker.ETAGS[True] != tracker.ETAGS[False]
    again = client.get(SCRIPT, HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    since = client.get(SCRIPT, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert since.status_code == 304
    # The plain body's ETag does not validate the gzipped one.
    assert client.get(SCRIPT, HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=tracker.ETAGS[False]).status_code == 200


def test_a_fresh_build_of_the_script_gives_the_same_bytes_and_etag():
    """What another worker computes when it starts: the same input, the same output."""
    before = (tracker.MINIFIED, tracker.GZIPPED, tracker.ETAGS)
    assert before == (importlib.reload(tracker).MINIFIED, tracker.GZIPPED, tracker.ETAGS)
