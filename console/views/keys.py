"""An app's API keys: listed by their masked prefix, created, rotated with a grace period and revoked, by
the same services as the API, the admin and the commands (apikeys.services). A new key is in the answer
to the request that made it and nowhere else: the page is rendered, not redirected to, and never cached."""

from datetime import timedelta

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from apikeys import services
from apikeys.keys import KeyKind
from apikeys.models import ApiKey
from apikeys.selectors import app_keys_list
from console.forms import KeyCreateForm, KeyRotateForm
from console.views.access import organisation_page, page_context
from console.views.apps import organisation_app
from organisations.audit import Actor


def _keys_page(request, page, app, *, issued=None, create_form=None, status=200):
    context = page_context(
        request,
        page,
        app=app,
        keys=app_keys_list(app=app),
        issued=issued,
        create_form=create_form or KeyCreateForm(),
        rotate_form=KeyRotateForm(),
    )
    return render(request, "console/keys.html", context, status=status)


def _app_key(app, key_id) -> ApiKey:
    api_key = ApiKey.objects.select_related("app__organisation").filter(app=app, pk=key_id).first()
    if api_key is None:
        raise Http404("No such key.")
    return api_key


@require_http_methods(["GET", "POST"])
@organisation_page("keys.manage")
def key_list(request, page, app_id):
    app = organisation_app(page, app_id)
    if request.method == "GET":
        return _keys_page(request, page, app)
    form = KeyCreateForm(request.POST)
    if not form.is_valid():
        return _keys_page(request, page, app, create_form=form, status=400)
    issued = services.api_key_create(
        app=app,
        kind=KeyKind(form.cleaned_data["kind"]),
        name=form.cleaned_data["name"],
        actor=Actor.from_request(request),
    )
    return _keys_page(request, page, app, issued=issued)


@require_POST
@organisation_page("keys.manage")
def key_rotate(request, page, app_id, key_id):
    app = organisation_app(page, app_id)
    api_key = _app_key(app, key_id)
    form = KeyRotateForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Not rotated: {' '.join(form.errors['grace_hours'])}")
        return redirect("console:keys", slug=page.organisation.slug, app_id=app.pk)
    try:
        issued = services.api_key_rotate(
            api_key=api_key,
            grace=timedelta(hours=form.cleaned_data["grace_hours"]),
            actor=Actor.from_request(request),
        )
    except services.KeyNotRotatable as exc:
        messages.error(request, str(exc))
        return redirect("console:keys", slug=page.organisation.slug, app_id=app.pk)
    return _keys_page(request, page, app, issued=issued)


@require_POST
@organisation_page("keys.manage")
def key_revoke(request, page, app_id, key_id):
    app = organisation_app(page, app_id)
    revoked = services.api_key_revoke(api_key=_app_key(app, key_id), actor=Actor.from_request(request))
    messages.success(request, f"{revoked.prefix} is revoked: it is refused from now on.")
    return redirect("console:keys", slug=page.organisation.slug, app_id=app.pk)
