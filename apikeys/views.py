from datetime import timedelta

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from apikeys import services
from apikeys.models import ApiKey
from apikeys.selectors import api_key_authenticate, app_keys_list
from apikeys.serializers import (
    ApiKeyOutput,
    CreateKeyInput,
    CurrentKeyOutput,
    IssuedKeyOutput,
    RegenerateInput,
    RegisterInput,
    RegisterOutput,
    RevokeInput,
    RevokeOutput,
    RotationOutput,
)
from apikeys.throttling import KeyManagementRateThrottle, RegistrationRateThrottle
from organisations.audit import Actor

UUID_PATTERN = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
NO_STORE = {"Cache-Control": "no-store"}  # responses carrying a new key must not sit in any cache

KEY_EXAMPLE = {
    "id": "5b0f7c1e-2a4d-4e8b-9c3f-0d1e2f3a4b5c",
    "kind": "secret",
    "name": "default secret key",
    "prefix": "sk_AbCd1234…",
    "status": "active",
    "createdAt": "2026-01-05T10:00:00Z",
    "expiresAt": "2027-01-05T10:00:00Z",
    "revokedAt": None,
    "lastUsedAt": "2026-01-06T08:12:44Z",
    "replacedBy": None,
    "ingestRate": "",
    "reportRate": "",
}
NEW_KEY = "sk_AbCd1234" + "x" * 32 + "Zz9Yy8"
NEW_PUBLISHABLE_KEY = "pk_QrSt5678" + "x" * 32 + "Ww7Vv6"


def _example(name: str, value, status: str = "200") -> OpenApiExample:
    return OpenApiExample(name, value=value, response_only=True, status_codes=[status])


class RegistrationOpen(BasePermission):
    message = "Registration is closed on this server; ask an operator for an app."
    code = "registration_closed"

    def has_permission(self, request, view) -> bool:
        return settings.REGISTRATION_OPEN


@extend_schema_view(
    create=extend_schema(
        summary="Register an app",
        description="Creates an app with a secret and a publishable key. The keys are shown this once only.",
        request=RegisterInput,
        responses={201: RegisterOutput},
        auth=[],
        examples=[
            OpenApiExample(
                "Register",
                value={"name": "My site", "ownerEmail": "me@example.com", "domains": ["example.com"]},
                request_only=True,
            ),
            _example(
                "Registered",
                {
                    "appId": "0c2e5a7b-1d3f-4a6b-8c9d-0e1f2a3b4c5d",
                    "name": "My site",
                    "apiKey": NEW_KEY,
                    "publishableKey": NEW_PUBLISHABLE_KEY,
                    "keyPrefix": "sk_AbCd1234…",
                    "expiresAt": "2027-01-05T10:00:00Z",
                },
                "201",
            ),
        ],
    )
)
class RegistrationViewSet(viewsets.GenericViewSet):
    authentication_classes = []
    permission_classes = [RegistrationOpen]
    throttle_classes = [RegistrationRateThrottle]

    def create(self, request):
        data = validated(RegisterInput, request.data)
        registered = services.app_register(
            name=data["name"],
            owner_email=data["owner_email"],
            domains=data["domains"],
            timezone_name=data["timezone"],
            site_domain=data["site_domain"],
            actor=Actor.from_request(request),
        )
        return Response(RegisterOutput(registered).data, status=status.HTTP_201_CREATED, headers=NO_STORE)


@extend_schema_view(
    list=extend_schema(
        summary="The calling key and its app",
        description="The app and the metadata of all its keys. Never a key's secret.",
        responses={200: CurrentKeyOutput},
        examples=[
            _example(
                "Current key",
                {
                    "app": {
                        "id": "0c2e5a7b-1d3f-4a6b-8c9d-0e1f2a3b4c5d",
                        "name": "My site",
                        "organisationId": "7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0b",
                        "ownerEmail": "me@example.com",
                        "domains": ["example.com"],
                        "siteDomain": "example.com",
                        "timezone": "Europe/Berlin",
                        "createdAt": "2026-01-05T10:00:00Z",
                    },
                    "key": KEY_EXAMPLE,
                    "keys": [KEY_EXAMPLE],
                },
            )
        ],
    )
)
class CurrentKeyViewSet(viewsets.GenericViewSet):
    throttle_classes = [KeyManagementRateThrottle]

    def list(self, request):
        app = request.auth.app
        return Response(CurrentKeyOutput({"app": app, "key": request.auth, "keys": app_keys_list(app=app)}).data)


@extend_schema_view(
    list=extend_schema(
        summary="List the app's keys",
        responses={200: ApiKeyOutput(many=True)},
        examples=[_example("Keys", KEY_EXAMPLE)],  # drf-spectacular lists a many=True example
    ),
    retrieve=extend_schema(
        summary="One key's metadata", responses={200: ApiKeyOutput}, examples=[_example("Key", KEY_EXAMPLE)]
    ),
    create=extend_schema(
        summary="Create a key",
        request=CreateKeyInput,
        responses={201: IssuedKeyOutput},
        examples=[
            OpenApiExample("Publishable key", value={"kind": "publishable", "name": "web"}, request_only=True),
            _example(
                "Created",
                {
                    "apiKey": NEW_PUBLISHABLE_KEY,
                    "key": {
                        **KEY_EXAMPLE,
                        "kind": "publishable",
                        "name": "web",
                        "prefix": "pk_QrSt5678…",
                        "lastUsedAt": None,
                    },
                },
                "201",
            ),
        ],
    ),
    regenerate=extend_schema(
        summary="Rotate a key",
        description="Issues a new key of the same kind. The old key keeps working for `graceSeconds` "
        "(default 24 h; 0 revokes it at once).",
        request=RegenerateInput,
        responses={201: RotationOutput},
        examples=[
            OpenApiExample("One hour of grace", value={"graceSeconds": 3600}, request_only=True),
            _example(
                "Rotated",
                {
                    "apiKey": NEW_KEY,
                    "key": {**KEY_EXAMPLE, "id": "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"},
                    "previousKey": {**KEY_EXAMPLE, "status": "rotating", "revokedAt": "2026-01-06T09:12:44Z"},
                },
                "201",
            ),
        ],
    ),
    revoke=extend_schema(
        summary="Revoke a key at once",
        request=None,
        responses={200: ApiKeyOutput},
        examples=[_example("Revoked", {**KEY_EXAMPLE, "status": "revoked", "revokedAt": "2026-01-06T08:30:00Z"})],
    ),
)
class ApiKeyViewSet(viewsets.GenericViewSet):
    """The calling app's keys. Another app's key ids are answered 404, like ids that do not exist."""

    lookup_value_regex = UUID_PATTERN
    throttle_classes = [KeyManagementRateThrottle]
    queryset = ApiKey.objects.none()  # for the schema; real queries are scoped in get_queryset

    def get_queryset(self):
        return app_keys_list(app=self.request.auth.app)

    def list(self, request):
        return Response(ApiKeyOutput(self.get_queryset(), many=True).data)

    def retrieve(self, request, pk=None):
        return Response(ApiKeyOutput(self.get_object()).data)

    def create(self, request):
        data = validated(CreateKeyInput, request.data)
        issued = services.api_key_create(app=request.auth.app, actor=Actor.from_request(request), **data)
        return Response(IssuedKeyOutput(issued).data, status=status.HTTP_201_CREATED, headers=NO_STORE)

    @action(detail=True, methods=["post"])
    def regenerate(self, request, pk=None):
        data = validated(RegenerateInput, request.data)
        issued = _rotate(request, self.get_object(), grace=timedelta(seconds=data["grace_seconds"]))
        return Response(RotationOutput(issued).data, status=status.HTTP_201_CREATED, headers=NO_STORE)

    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        revoked = services.api_key_revoke(api_key=self.get_object(), actor=Actor.from_request(request))
        return Response(ApiKeyOutput(revoked).data)


@extend_schema_view(
    create=extend_schema(
        summary="Revoke a key (optionally replacing it)",
        description="Revokes the key named by `apiKey` or `keyId` at once. With `regenerate: true` a new key "
        "of the same kind is issued and returned once.",
        request=RevokeInput,
        responses={200: RevokeOutput},
        examples=[
            OpenApiExample("Revoke and replace", value={"apiKey": NEW_KEY, "regenerate": True}, request_only=True),
            _example(
                "Revoked and replaced",
                {
                    "revoked": {**KEY_EXAMPLE, "status": "revoked"},
                    "replacement": {
                        "apiKey": NEW_KEY,
                        "key": {**KEY_EXAMPLE, "id": "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"},
                    },
                },
            ),
        ],
    )
)
class RevokeViewSet(viewsets.GenericViewSet):
    throttle_classes = [KeyManagementRateThrottle]
    may_not_find = True  # a key of another app, or none: documented 404

    def create(self, request):
        data = validated(RevokeInput, request.data)
        target = self._target(request, data)
        replacement = _rotate(request, target, grace=timedelta(0)) if data["regenerate"] else None
        revoked = services.api_key_revoke(api_key=target, actor=Actor.from_request(request))
        body = RevokeOutput({"revoked": revoked, "replacement": replacement}).data
        return Response(body, headers=NO_STORE if replacement else None)

    @staticmethod
    def _target(request, data) -> ApiKey:
        if "raw_key" in data:
            target = api_key_authenticate(raw_key=data["raw_key"])
            if target is None or target.app_id != request.auth.app_id:
                raise exceptions.NotFound("No such key in this app.")
            return target
        return get_object_or_404(app_keys_list(app=request.auth.app), pk=data["key_id"])


def validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _rotate(request, api_key: ApiKey, *, grace: timedelta) -> services.IssuedKey:
    try:
        return services.api_key_rotate(api_key=api_key, grace=grace, actor=Actor.from_request(request))
    except services.KeyNotRotatable as exc:
        raise exceptions.ValidationError({"key": [str(exc)]}) from None
