"""Who may create an account, by SIGNUP_MODE (README "Accounts"): open, invite (the default, as
Plausible's community edition) or closed."""

from django.conf import settings
from django.contrib.auth import get_user_model

from organisations.invitations import pending_invitation_exists
from organisations.models import Organisation


def signup_page_open() -> bool:
    """Whether the sign-up page is there at all; in invite mode it is, and asks signup_allowed of the address."""
    return settings.SIGNUP_MODE != "closed"


def signup_by_invitation() -> bool:
    """Invite mode, once the install has an account: until then it takes anyone, so its first person can
    start from the browser (that account gets no staff rights; operators still come from createsuperuser)."""
    return settings.SIGNUP_MODE == "invite" and get_user_model().objects.exists()


def signup_allowed(email: str) -> bool:
    """Whether ``email`` may create an account now, by e-mail and password or through a provider."""
    if settings.SIGNUP_MODE == "closed":
        return False
    return not signup_by_invitation() or invited(email)


def invited(email: str) -> bool:
    """Whether an organisation waits for ``email``: as the pending owner the register endpoint named, or by
    an open invitation. Signing up grants neither: the pending owner claims on verifying the address, the
    invitee joins by following the invitation's link."""
    return Organisation.objects.filter(pending_owner_email=email.strip().lower()).exists() or pending_invitation_exists(
        email
    )
