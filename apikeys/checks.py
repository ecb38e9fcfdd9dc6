from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def rate_limits_need_a_shared_cache(app_configs, **kwargs):
    """Local-memory counters are per process: behind N gunicorn workers every limit becomes N times looser."""
    backend = settings.CACHES["default"]["BACKEND"]
    if backend.endswith("LocMemCache"):
        return [
            checks.Warning(
                "Rate limits and the report cache are kept per process (local-memory cache).",
                hint="Set REDIS_URL so every worker shares one set of counters and one report cache.",
                id="apikeys.W001",
            )
        ]
    return []
