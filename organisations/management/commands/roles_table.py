from django.core.management.base import BaseCommand

from organisations.permissions import markdown_table


class Command(BaseCommand):
    help = "Print the role table of organisations.permissions as Markdown, for the README."

    def handle(self, *args, **options):
        self.stdout.write(markdown_table())
