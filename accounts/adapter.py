"""allauth's hooks: who may sign up (accounts.signup), the pending organisations a verified address claims
on every sign-in and on every address verified, and the client address its rate limits count."""

import dataclasses

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp
from django.conf import settings
from django.http import Http404

from accounts.services import account_claim_organisations
from accounts.signup import signup_allowed, signup_page_open
from analytics_project.client_ip import client_ip
from organisations.audit import Actor


class AccountAdapter(DefaultAccountAdapter):
    def get_client_ip(self, request) -> str:
        """The address its rate limits count: the one every other limit and the audit log use, from
        X-Forwarded-For only behind TRUSTED_PROXY_COUNT proxies."""
        return client_ip(request) or super().get_client_ip(request)

    def is_open_for_signup(self, request) -> bool:
        return signup_page_open()

    def login(self, request, user) -> None:
        super().login(request, user)
        account_claim_organisations(user=user, actor=Actor.from_request(request))

    def confirm_email(self, request, email_address) -> bool:
        confirmed = super().confirm_email(request, email_address)
        if confirmed:
            actor = dataclasses.replace(Actor.from_request(request), user=email_address.user, label="")
            account_claim_organisations(user=email_address.user, actor=actor)
        return confirmed


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def get_app(self, request, provider, client_id=None):
        """A provider the environment did not turn on has no page: 404, not allauth's 500."""
        try:
            return super().get_app(request, provider, client_id=client_id)
        except SocialApp.DoesNotExist:
            raise Http404("This sign-in provider is not configured.") from None

    def is_open_for_signup(self, request, sociallogin) -> bool:
        """In invite mode a provider's address counts only if the provider verified it."""
        if settings.SIGNUP_MODE == "open":
            return True
        verified = [address.email for address in sociallogin.email_addresses if address.verified]
        return any(signup_allowed(email) for email in verified)
