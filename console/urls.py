from django.urls import path

from console.views import apps, invitation, keys, members

app_name = "console"
urlpatterns = [
    path("orgs/", apps.organisation_list, name="organisations"),
    path("orgs/<slug:slug>/", apps.app_list, name="apps"),
    path("orgs/<slug:slug>/apps/new", apps.app_create, name="app-create"),
    path("orgs/<slug:slug>/apps/<uuid:app_id>/", apps.app_settings, name="app-settings"),
    path("orgs/<slug:slug>/apps/<uuid:app_id>/keys", keys.key_list, name="keys"),
    path("orgs/<slug:slug>/apps/<uuid:app_id>/keys/<uuid:key_id>/rotate", keys.key_rotate, name="key-rotate"),
    path("orgs/<slug:slug>/apps/<uuid:app_id>/keys/<uuid:key_id>/revoke", keys.key_revoke, name="key-revoke"),
    path("orgs/<slug:slug>/members", members.member_list, name="members"),
    path("orgs/<slug:slug>/members/<int:membership_id>/role", members.member_role, name="member-role"),
    path("orgs/<slug:slug>/members/<int:membership_id>/remove", members.member_remove, name="member-remove"),
    path("orgs/<slug:slug>/invitations", members.invitation_list, name="invitations"),
    path(
        "orgs/<slug:slug>/invitations/<uuid:invitation_id>/revoke",
        members.invitation_revoke,
        name="invitation-revoke",
    ),
    path("orgs/<slug:slug>/audit", members.audit_log, name="audit"),
    # Outside /orgs/: the invitee is not a member yet, and may not even be signed in.
    path("invitations/<str:token>/", invitation.invitation, name="invitation"),
]
