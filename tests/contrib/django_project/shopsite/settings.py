"""Settings of the test shop. The tests choose the databases through the environment:
SHOP_SQLITE_FILE (the `default` SQLite database), SHOP_PG_URL and SHOP_PG_SCHEMA (an optional
`postgres` database, in a schema of the test's own) and SHOP_JOBS_DATABASE (the alias whose
database holds the orders and the jobs)."""

import os
from urllib.parse import urlsplit

SECRET_KEY = "only-for-tests"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost"]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
ROOT_URLCONF = "shopsite.urls"
LOGIN_URL = "/accounts/login/"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "underway.contrib.django",
    "orders",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("SHOP_SQLITE_FILE", "shop.sqlite3"),
    }
}
if os.environ.get("SHOP_PG_SCHEMA"):
    server = urlsplit(os.environ["SHOP_PG_URL"])
    DATABASES["postgres"] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": server.path.lstrip("/"),
        "USER": server.username or "",
        "PASSWORD": server.password or "",
        "HOST": server.hostname or "",
        "PORT": server.port or "",
        "OPTIONS": {"options": f"-c search_path={os.environ['SHOP_PG_SCHEMA']}"},
    }
JOBS_DATABASE = os.environ.get("SHOP_JOBS_DATABASE", "default")
UNDERWAY = {"DATABASE": JOBS_DATABASE, "SCHEMA": os.environ.get("SHOP_PG_SCHEMA", "underway")}
