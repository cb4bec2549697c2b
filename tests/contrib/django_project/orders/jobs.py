"""The shop's jobs, found by underway.contrib.django because this app is installed."""

from underway.contrib.django import app

from .models import Order


@app.job
def send_receipt(order_id: int) -> str:
    return f"receipt for {Order.objects.using(_database()).get(pk=order_id).item}"


def _database() -> str:
    from django.conf import settings

    return str(settings.JOBS_DATABASE)
