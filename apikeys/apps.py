from django.apps import AppConfig


class ApikeysConfig(AppConfig):
    name = "apikeys"
    verbose_name = "Apps and API keys"

    def ready(self):
        # Imported for their side effects: the deploy checks and the OpenAPI security scheme register.
        from analytics_project import schema  # noqa: F401
        from apikeys import checks, key_cache  # noqa: F401

        key_cache.connect_receivers()
