"""The JSON renderer of every DRF view."""

from rest_framework import renderers


class JSONRenderer(renderers.JSONRenderer):
    """DRF's renderer, unless a string holds a lone surrogate (an error echoing a client's bad key or
    value): UTF-8 cannot encode one, so that response is written with ASCII escapes instead of failing."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            ascii_renderer = renderers.JSONRenderer()
            ascii_renderer.ensure_ascii = True
            return ascii_renderer.render(data, accepted_media_type, renderer_context)
