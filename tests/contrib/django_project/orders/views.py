"""Placing an order stores it and enqueues its receipt in one transaction: a failed order
(`?fail=1`) leaves neither."""

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, JsonResponse

from underway.contrib.django import in_transaction

from .jobs import send_receipt
from .models import Order


class PaymentDeclined(Exception):
    pass


def place_order(request: HttpRequest) -> JsonResponse:
    database = settings.JOBS_DATABASE
    try:
        with transaction.atomic(using=database):
            order = Order.objects.using(database).create(item=request.GET.get("item", "tea"))
            receipt = in_transaction(send_receipt, using=database).enqueue(order_id=order.pk)
            if request.GET.get("fail"):
                raise PaymentDeclined
    except PaymentDeclined:
        return JsonResponse({"error": "payment declined"}, status=402)
    return JsonResponse({"order": order.pk, "job": receipt.handle.id}, status=201)


async def place_order_async(request: HttpRequest) -> JsonResponse:
    """No transaction is open in async code: the receipt is stored at once."""
    receipt = await in_transaction(send_receipt).enqueue_async(order_id=int(request.GET["order"]))
    return JsonResponse({"job": receipt.handle.id}, status=201)
