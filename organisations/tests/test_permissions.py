"""The one permission table: what the issue says each role may do, ``can`` on real memberships for every
operation and role, and the README's table equal to the code's."""

import re
from pathlib import Path

import pytest

from organisations import permissions, services
from organisations.models import Role
from organisations.permissions import OPERATIONS, ROLE_ORDER, can

README = Path(__file__).resolve().parents[2] / "README.md"

# The issue's sentence, as data: viewers read reports; members also manage funnels and goals and export;
# admins manage apps, keys and members (and read the audit log shown to admins); owners also delete and
# transfer. A new operation fails here until it is given its least role in both places.
LEAST_ROLE = {
    "reports.read": Role.VIEWER,
    "funnels.manage": Role.MEMBER,
    "goals.manage": Role.MEMBER,
    "export": Role.MEMBER,
    "apps.manage": Role.ADMIN,
    "keys.manage": Role.ADMIN,
    "members.manage": Role.ADMIN,
    "audit.read": Role.ADMIN,
    "organisation.delete": Role.OWNER,
    "organisation.transfer": Role.OWNER,
}


def test_the_table_says_what_the_issue_says():
    assert {name: operation.least_role for name, operation in OPERATIONS.items()} == LEAST_ROLE


def test_every_role_is_ranked():
    assert set(ROLE_ORDER) == set(Role)


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("role", [*ROLE_ORDER, None])
def test_can_follows_the_table_for_every_operation_and_role(operation, role, organisation, user_factory):
    user = user_factory("someone")
    if role is not None:
        services.membership_add(organisation=organisation, user=user, role=role)
    expected = role is not None and ROLE_ORDER.index(role) >= ROLE_ORDER.index(LEAST_ROLE[operation])
    assert can(user, operation, organisation) is expected


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_role_in_one_organisation_allows_nothing_in_another(operation, organisation, user_factory):
    owner = user_factory("owner")
    services.membership_add(organisation=organisation, user=owner, role=Role.OWNER)
    elsewhere = services.organisation_create(name="Elsewhere")
    assert not can(owner, operation, elsewhere)


def test_can_takes_anything_of_an_organisation(organisation, user_factory):
    user = user_factory("viewer")
    services.membership_add(organisation=organisation, user=user, role=Role.VIEWER)

    class AppOfIt:
        organisation_id = organisation.pk

    assert can(user, "reports.read", AppOfIt())


def test_an_inactive_member_may_do_nothing(organisation, user_factory):
    user = user_factory("gone")
    services.membership_add(organisation=organisation, user=user, role=Role.OWNER)
    user.is_active = False
    assert not any(can(user, operation, organisation) for operation in OPERATIONS)


def test_staff_get_nothing_from_the_table(organisation, user_factory):
    assert not can(user_factory("root", is_staff=True, is_superuser=True), "reports.read", organisation)


def test_an_operation_without_a_rule_is_an_error_not_an_answer(organisation, user_factory):
    with pytest.raises(KeyError):
        can(user_factory("x"), "reports.delete_everything", organisation)


def test_making_or_unmaking_an_owner_is_a_transfer():
    assert permissions.role_change_operation(Role.ADMIN, Role.OWNER) == "organisation.transfer"
    assert permissions.role_change_operation(Role.OWNER, Role.ADMIN) == "organisation.transfer"
    assert permissions.role_change_operation(Role.OWNER, None) == "organisation.transfer"
    assert permissions.role_change_operation(None, Role.ADMIN) == "members.manage"
    assert permissions.role_change_operation(Role.VIEWER, Role.MEMBER) == "members.manage"


def test_the_readme_holds_the_same_table_as_the_code():
    text = README.read_text()
    match = re.search(r"<!-- roles:start -->\n(.*?)\n<!-- roles:end -->", text, re.DOTALL)
    assert match, "README.md needs the role table between <!-- roles:start --> and <!-- roles:end -->"
    assert match.group(1).strip() == permissions.markdown_table(), (
        "README's role table differs from organisations.permissions.OPERATIONS: paste `manage.py roles_table`"
    )
