"""The browser tracker as served at /t.js (SPEC §4.4): t.js minified once, when the module loads, and
gzipped for clients that accept it.

The bytes depend on t.js alone, so every worker on every machine of a deploy serves the same body,
ETag and Last-Modified (t.js's modification time), and a browser's conditional request gets its 304
from whichever worker answers.
"""

import gzip
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import rjsmin
from django.http import HttpResponse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import condition

SOURCE = Path(__file__).resolve().parent / "t.js"
MINIFIED = rjsmin.jsmin(SOURCE.read_text(encoding="utf-8")).encode()
# mtime=0: the same input gives the same gzip bytes, whoever compresses it.
GZIPPED = gzip.compress(MINIFIED, compresslevel=9, mtime=0)
_DIGEST = hashlib.sha256(MINIFIED).hexdigest()[:32]
# One ETag per encoding: they are different bytes, and a cache may hold both.
ETAGS = {False: f'"{_DIGEST}"', True: f'"{_DIGEST}-gzip"'}
LAST_MODIFIED = datetime.fromtimestamp(int(SOURCE.stat().st_mtime), tz=UTC)


def _accepts_gzip(request) -> bool:
    return "gzip" in request.headers.get("Accept-Encoding", "")


@condition(etag_func=lambda request: ETAGS[_accepts_gzip(request)], last_modified_func=lambda request: LAST_MODIFIED)
def tracker_script(request):
    gzipped = _accepts_gzip(request)
    response = HttpResponse(GZIPPED if gzipped else MINIFIED, content_type="application/javascript; charset=utf-8")
    if gzipped:
        response["Content-Encoding"] = "gzip"
    patch_vary_headers(response, ["Accept-Encoding"])
    response["Cache-Control"] = "public, max-age=3600"
    response["Access-Control-Allow-Origin"] = "*"
    return response
