"""The person's organisations, an organisation's apps, a new app, and an app's settings."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from apikeys import services
from apikeys.models import App
from console.forms import AppSettingsForm, OrganisationForm
from console.views.access import OrganisationPage, organisation_page, page_context
from organisations.audit import Actor
from organisations.selectors import memberships_of
from organisations.services import organisation_create


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def organisation_list(request):
    """The switcher: every organisation the person belongs to, with their role and its apps; and a new
    organisation, of which its maker is the owner (anyone signed in may start one, as in PostHog)."""
    form = OrganisationForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        organisation = organisation_create(
            name=form.cleaned_data["name"], owner=request.user, actor=Actor.from_request(request)
        )
        return redirect("console:apps", organisation.slug)
    context = {"memberships": memberships_of(user=request.user), "form": form}
    return render(request, "console/organisation_list.html", context, status=400 if form.is_bound else 200)


def organisation_app(page: OrganisationPage, app_id) -> App:
    """One of the page's organisation's apps; any other id, another organisation's included, is a 404."""
    app = App.objects.select_related("organisation").filter(organisation=page.organisation, pk=app_id).first()
    if app is None:
        raise Http404("No such app.")
    return app


@require_GET
@organisation_page("reports.read")
def app_list(request, page):
    apps = page.organisation.apps.order_by("name")
    return render(request, "console/app_list.html", page_context(request, page, apps=apps))


@require_http_methods(["GET", "POST"])
@organisation_page("apps.manage")
def app_create(request, page):
    form = AppSettingsForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        if not request.user.email:
            form.add_error(None, "Your account needs an email address: it is recorded as the app's owner.")
        else:
            try:
                registered = services.app_register(
                    name=form.cleaned_data["name"],
                    owner_email=request.user.email,
                    organisation=page.organisation,
                    domains=form.cleaned_data["domains"],
                    timezone_name=form.cleaned_data["timezone"],
                    site_domain=form.cleaned_data["site_domain"],
                    actor=Actor.from_request(request),
                )
            except ValidationError as exc:
                form.add_model_errors(exc)
            else:
                # Rendered, not redirected to: the keys exist in plain text in this response only.
                return render(
                    request,
                    "console/app_created.html",
                    page_context(
                        request, page, registered=registered, origin=request.build_absolute_uri("/").rstrip("/")
                    ),
                )
    status = 400 if form.is_bound else 200
    return render(request, "console/app_create.html", page_context(request, page, form=form), status=status)


@require_http_methods(["GET", "POST"])
@organisation_page("apps.manage")
def app_settings(request, page, app_id):
    app = organisation_app(page, app_id)
    form = AppSettingsForm.for_app(app, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.app_update(app=app, actor=Actor.from_request(request), **form.cleaned_data)
        except ValidationError as exc:
            form.add_model_errors(exc)
        else:
            messages.success(request, "Settings saved.")
            return redirect("console:app-settings", slug=page.organisation.slug, app_id=app.pk)
    status = 400 if form.is_bound else 200
    return render(request, "console/app_settings.html", page_context(request, page, app=app, form=form), status=status)
