from rest_framework.permissions import BasePermission

from apikeys.models import ApiKey


class HasApiKey(BasePermission):
    """Any working key of either kind: what ingestion needs."""

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, ApiKey)


class IsSecretKey(BasePermission):
    """A secret key: reports and key management. Publishable keys are for ingestion only."""

    message = "This endpoint needs a secret (sk_) key; publishable (pk_) keys can only send events."
    code = "secret_key_required"

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, ApiKey) and request.auth.is_secret
