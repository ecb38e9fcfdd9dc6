"""What a sign-in does beyond allauth's own: an organisation waiting for one of the person's verified
addresses gets them as its owner."""

from allauth.account.models import EmailAddress

from organisations.audit import Actor
from organisations.models import Organisation
from organisations.services import organisations_claim_pending


def account_claim_organisations(*, user, actor: Actor) -> list[Organisation]:
    """Only addresses allauth has verified (by the link it mailed, or a provider that says so) count:
    the address is all that names a pending owner."""
    claimed = []
    for email in EmailAddress.objects.filter(user=user, verified=True).values_list("email", flat=True):
        claimed += organisations_claim_pending(user=user, verified_email=email, actor=actor)
    return claimed
