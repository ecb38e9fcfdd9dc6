from django.urls import path, re_path

from events.protocols.posthog import views

capture = views.CaptureView.as_view()
flags = views.FlagsView.as_view()


def _with_and_without_slash(route: str, view, name: str) -> list:
    # PostHog's SDKs call the slashed paths; other clients and hand-written requests often drop it.
    return [path(f"{route}/", view, name=name), path(route, view, name=f"{name}-no-slash")]


urlpatterns = [
    *_with_and_without_slash("e", capture, "posthog-e"),
    *_with_and_without_slash("i/v0/e", capture, "posthog-i-v0-e"),
    *_with_and_without_slash("batch", capture, "posthog-batch"),
    *_with_and_without_slash("capture", capture, "posthog-capture"),
    *_with_and_without_slash("track", capture, "posthog-track"),
    *_with_and_without_slash("engage", views.CaptureView.as_view(engage=True), "posthog-engage"),
    *_with_and_without_slash("flags", flags, "posthog-flags"),
    *_with_and_without_slash("decide", views.FlagsView.as_view(endpoint="decide"), "posthog-decide"),
    # Regexes, as the routers write theirs, so the schema test reads {token}; the dot is left unescaped
    # for the same reason (it would stay in the path it reads), which only lets "configXjs" in as well.
    re_path(r"^array/(?P<token>[^/]+)/config$", views.RemoteConfigView.as_view(), name="posthog-config"),
    re_path(
        r"^array/(?P<token>[^/]+)/config.js$", views.RemoteConfigScriptView.as_view(), name="posthog-config-script"
    ),
]
