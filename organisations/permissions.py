"""Who may do what: the one table, and ``can``. The README's role table is generated from OPERATIONS
(``markdown_table``) and a test keeps the two equal; the role-matrix tests are generated from it too.

An operation names its least role; every higher role may do it as well. An operation not in the table
is a KeyError, never a silent yes or no.
"""

from dataclasses import dataclass

from organisations.models import Membership, Organisation, Role

# Lowest first: a role may do what every role before it may.
ROLE_ORDER = (Role.VIEWER, Role.MEMBER, Role.ADMIN, Role.OWNER)


@dataclass(frozen=True)
class Operation:
    least_role: Role
    description: str


OPERATIONS: dict[str, Operation] = {
    "reports.read": Operation(Role.VIEWER, "Read the reports and the dashboard of the organisation's apps"),
    "funnels.manage": Operation(Role.MEMBER, "Save, change and delete funnels"),
    "goals.manage": Operation(Role.MEMBER, "Save, change and delete goals"),
    "export": Operation(Role.MEMBER, "Export raw events (IP addresses and user agents included)"),
    "apps.manage": Operation(Role.ADMIN, "Create apps and change their settings (name, domains, time zone)"),
    "keys.manage": Operation(Role.ADMIN, "Create, rotate and revoke the apps' API keys"),
    "members.manage": Operation(Role.ADMIN, "Add and remove members, and give roles up to admin"),
    "audit.read": Operation(Role.ADMIN, "Read the organisation's audit log"),
    "organisation.delete": Operation(Role.OWNER, "Delete the organisation"),
    "organisation.transfer": Operation(Role.OWNER, "Make a member an owner, or change an owner's role"),
}


def role_allows(role: Role | str, operation: str) -> bool:
    return ROLE_ORDER.index(Role(role)) >= ROLE_ORDER.index(OPERATIONS[operation].least_role)


def roles_allowed(operation: str) -> list[Role]:
    return [role for role in ROLE_ORDER if role_allows(role, operation)]


def organisation_id_of(target) -> object:
    """An Organisation's id, or the organisation id of anything that belongs to one (an App)."""
    return target.pk if isinstance(target, Organisation) else target.organisation_id


def can(user, operation: str, target) -> bool:
    """Whether ``user`` may do ``operation`` on ``target`` (an Organisation, or an App of one), by their
    membership. Staff and superusers get nothing here: operators act through the Django admin."""
    OPERATIONS[operation]  # an unknown operation is a bug, whoever asks
    role = role_of(user=user, organisation_id=organisation_id_of(target))
    return role is not None and role_allows(role, operation)


def role_of(*, user, organisation_id) -> Role | None:
    """The user's role in the organisation; None for a non-member, and for anyone signed out or inactive."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    role = Membership.objects.filter(user=user, organisation_id=organisation_id).values_list("role", flat=True).first()
    return Role(role) if role else None


def role_change_operation(current: Role | str | None, new: Role | str | None) -> str:
    """What changing a membership from ``current`` to ``new`` (None: absent) needs: an owner made or
    unmade is a transfer of ownership; anything else is managing members."""
    if Role.OWNER in (current, new):
        return "organisation.transfer"
    return "members.manage"


def markdown_table() -> str:
    """The README's role table: one row an operation, a column a role."""
    header = "| Operation | What | " + " | ".join(role.label for role in ROLE_ORDER) + " |"
    rule = "|---|---|" + "---|" * len(ROLE_ORDER)
    rows = [
        f"| `{name}` | {operation.description} | "
        + " | ".join("✓" if role_allows(role, name) else "" for role in ROLE_ORDER)
        + " |"
        for name, operation in OPERATIONS.items()
    ]
    return "\n".join([header, rule, *rows])
