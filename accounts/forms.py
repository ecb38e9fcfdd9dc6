from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms

from accounts.signup import signup_allowed

NOT_INVITED = "Sign-up here is by invitation: this address has none. Ask an organisation's admin to invite you."


class SignupForm(AllauthSignupForm):
    def clean_email(self) -> str:
        email = super().clean_email()
        if email and not signup_allowed(email):
            raise forms.ValidationError(NOT_INVITED, code="not_invited")
        return email
