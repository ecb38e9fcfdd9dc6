from accounts.signup import signup_by_invitation


def signup(request) -> dict:
    """Whether sign-up is by invitation, for the sign-up page to say so; a callable, so no other page
    pays its query."""
    return {"signup_by_invitation": signup_by_invitation}
