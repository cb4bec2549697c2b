"""A small Django project (a shop whose orders enqueue jobs) for the Django integration's
tests: its databases come from the environment the tests set (see shopsite/settings.py)."""
