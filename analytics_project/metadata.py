from rest_framework.metadata import SimpleMetadata


class ViewOnlyMetadata(SimpleMetadata):
    """`OPTIONS` names the view and its media types, without DRF's `actions` field descriptions.

    DRF builds `actions` from `view.get_serializer()`, which our viewsets do not define (each action
    names its own input serializer): on a GenericViewSet it raised and answered 500. The field
    descriptions are in the OpenAPI schema.
    """

    def determine_actions(self, request, view):
        return {}
