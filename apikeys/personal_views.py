"""A person's own API: who they are, their organisations and apps, and their personal keys.

Signed in (a session: the sign-in pages of a later release) or with a personal key. Creating a key needs
a session or ``manage.py personal_key_create``: a leaked personal key must not be able to mint others
that outlive its revocation."""

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from analytics_project.schema import response_example
from apikeys import services
from apikeys.authentication import PersonalKeyAuthentication
from apikeys.models import PersonalApiKey
from apikeys.selectors import personal_keys_list
from apikeys.serializers import CreatePersonalKeyInput, IssuedPersonalKeyOutput, KeyOutput, PersonOutput
from apikeys.throttling import PersonalKeyManagementThrottle
from apikeys.views import KEY_EXAMPLE, NO_STORE, UUID_PATTERN, validated
from organisations.audit import Actor
from organisations.selectors import memberships_of

PERSONAL_KEY_EXAMPLE = {
    **{name: KEY_EXAMPLE[name] for name in KeyOutput().fields},
    "id": "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f",
    "name": "laptop",
    "prefix": "uk_EfGh5678…",
}
NEW_PERSONAL_KEY = "uk_EfGh5678" + "x" * 32 + "Qq1Rr2"


class IsPerson(IsAuthenticated):
    message = "This needs a person: a personal (uk_) key or a signed-in session, not an app's key."
    code = "person_required"


class PersonalEndpoint(viewsets.GenericViewSet):
    authentication_classes = [PersonalKeyAuthentication, SessionAuthentication]
    permission_classes = [IsPerson]
    throttle_classes = [PersonalKeyManagementThrottle]


class SessionForNewKeys(BasePermission):
    message = "Creating a personal key needs a signed-in session; a personal key cannot create another."
    code = "session_required"

    def has_permission(self, request, view) -> bool:
        return view.action != "create" or not isinstance(request.auth, PersonalApiKey)


@extend_schema_view(
    list=extend_schema(
        summary="Who I am",
        description="The calling person, the organisations they belong to with their role in each, and each "
        "organisation's apps: the ids to pass as `appId` to the reports.",
        responses={200: PersonOutput},
        examples=[
            response_example(
                "A viewer of one organisation",
                {
                    "username": "ada",
                    "email": "ada@example.com",
                    "organisations": [
                        {
                            "id": "7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0b",
                            "name": "Acme",
                            "slug": "acme",
                            "role": "viewer",
                            "apps": [{"id": "0c2e5a7b-1d3f-4a6b-8c9d-0e1f2a3b4c5d", "name": "My site"}],
                        }
                    ],
                },
                "200",
            )
        ],
    )
)
class MeViewSet(PersonalEndpoint):
    def list(self, request):
        user = request.user
        body = {"username": user.get_username(), "email": user.email, "organisations": memberships_of(user=user)}
        return Response(PersonOutput(body).data)


@extend_schema_view(
    list=extend_schema(
        summary="List my personal keys",
        responses={200: KeyOutput(many=True)},
        examples=[response_example("Personal keys", PERSONAL_KEY_EXAMPLE, "200")],
    ),
    create=extend_schema(
        summary="Create a personal key",
        description="A key of the calling person's own (`uk_…`), shown this once only. It reads the reports "
        "of the apps of their organisations, as far as their role there allows, with `appId`. Needs a "
        "signed-in session.",
        request=CreatePersonalKeyInput,
        responses={201: IssuedPersonalKeyOutput},
        examples=[
            OpenApiExample("Laptop", value={"name": "laptop"}, request_only=True),
            response_example("Created", {"apiKey": NEW_PERSONAL_KEY, "key": PERSONAL_KEY_EXAMPLE}, "201"),
        ],
    ),
    revoke=extend_schema(
        summary="Revoke a personal key at once",
        request=None,
        responses={200: KeyOutput},
        examples=[response_example("Revoked", {**PERSONAL_KEY_EXAMPLE, "status": "revoked"}, "200")],
    ),
)
class PersonalKeyViewSet(PersonalEndpoint):
    """The caller's own personal keys. Another person's key ids are answered 404, like ids that do not exist."""

    permission_classes = [IsPerson, SessionForNewKeys]
    lookup_value_regex = UUID_PATTERN
    queryset = PersonalApiKey.objects.none()  # for the schema; real queries are scoped in get_queryset

    def get_queryset(self):
        return personal_keys_list(user=self.request.user)

    def list(self, request):
        return Response(KeyOutput(self.get_queryset(), many=True).data)

    def create(self, request):
        data = validated(CreatePersonalKeyInput, request.data)
        issued = services.personal_key_create(user=request.user, actor=Actor.from_request(request), **data)
        return Response(IssuedPersonalKeyOutput(issued).data, status=status.HTTP_201_CREATED, headers=NO_STORE)

    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        revoked = services.personal_key_revoke(personal_key=self.get_object(), actor=Actor.from_request(request))
        return Response(KeyOutput(revoked).data)
