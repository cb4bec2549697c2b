"""underway.contrib.django, on the test shop of ../django_project: settings, transactions on
PostgreSQL and SQLite, manage.py commands in real processes, the mount behind sign-in."""
