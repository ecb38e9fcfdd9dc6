"""Every existing app gets an organisation of its own, named after it, whose owner is pending for the
app's owner email (as the register endpoint makes them): that person becomes its owner on signing in
with the address verified. Before 0006 makes the organisation required."""

from django.db import migrations

from organisations.slugs import unique_slug


def give_each_app_an_organisation(apps, schema_editor):
    App = apps.get_model("apikeys", "App")
    Organisation = apps.get_model("organisations", "Organisation")
    taken = set(Organisation.objects.values_list("slug", flat=True))
    for app in App.objects.filter(organisation__isnull=True).order_by("created_at", "pk").iterator():
        slug = unique_slug(app.name, taken=taken.__contains__)
        taken.add(slug)
        organisation = Organisation.objects.create(
            name=app.name,
            slug=slug,
            created_at=app.created_at,
            pending_owner_email=app.owner_email.strip().lower(),
        )
        App.objects.filter(pk=app.pk).update(organisation=organisation)


def unlink(apps, schema_editor):
    App = apps.get_model("apikeys", "App")
    Organisation = apps.get_model("organisations", "Organisation")
    App.objects.update(organisation=None)
    Organisation.objects.filter(memberships__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("apikeys", "0004_app_organisation"),
        ("organisations", "0001_initial"),
    ]

    operations = [migrations.RunPython(give_each_app_an_organisation, unlink, elidable=False)]
