import json
import logging
import re
from datetime import UTC, datetime

# A key anywhere in a line (a path, a query string, Django's repr of a request) leaves only its masked
# prefix (apikeys.keys.mask's `sk_AbCd1234…`, and a personal key's `uk_AbCd1234…`): analytics.js and
# RudderStack JS put keys in URLs, and Django's own error lines carry the URL.
_KEY = re.compile(r"\b([spu]k_[A-Za-z0-9]{8})[A-Za-z0-9]+")
# A link's token is the whole credential (an invitation's, a shared dashboard's): none of it is logged.
# Only at a path's start (or after a URL's host): /orgs/<slug>/invitations/<id>/ names no secret.
_LINK_TOKEN = re.compile(r"""(^|[\s"'=]|//[^/\s"']+)(/(?:invitations|share)/)[A-Za-z0-9_-]+""")


def mask_keys(text: str) -> str:
    return _LINK_TOKEN.sub("\\1\\2…", _KEY.sub("\\1…", text))


# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged as a field.
_RECORD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line, so log pipelines can index fields without parsing prose."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({key: value for key, value in vars(record).items() if key not in _RECORD_ATTRIBUTES})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return mask_keys(json.dumps(entry, default=str))
