from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from apikeys import services
from organisations.audit import Actor


class Command(BaseCommand):
    help = (
        "Create a personal (uk_) key for a person; it is printed this once only. It reads the reports of "
        "the apps of the person's organisations, as far as their role allows."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="The person's user name (or email address).")
        parser.add_argument("--name", default="", help="What the key is for, e.g. laptop.")
        parser.add_argument("--expires-in-days", type=int, help="0 = never; default API_KEY_TTL_DAYS.")

    def handle(self, *args, user, name, expires_in_days, **options):
        person = find_user(user)
        issued = services.personal_key_create(
            user=person, name=name, ttl_days=expires_in_days, actor=Actor.command("personal_key_create")
        )
        self.stdout.write(f"key id: {issued.api_key.id}")
        self.stdout.write(f"key:    {issued.raw}")
        self.stdout.write("Store the key now; it is not shown again.")


def find_user(reference: str):
    users = get_user_model().objects
    person = users.filter(username=reference).first() or users.filter(email__iexact=reference).first()
    if person is None:
        raise CommandError(f"No user with user name or email {reference!r}.")
    if not person.is_active:
        raise CommandError(f"{person.get_username()} is not active; their keys would not work.")
    return person
