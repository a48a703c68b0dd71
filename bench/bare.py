"""The ceiling of the ingest figures: the least a Django view under the same
gunicorn can do with a webhook, storing its raw body in one committed
transaction. Its table is made by the bench (bench/__main__.py `start_live`),
not by a migration."""

from django.db import connection, transaction
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST


@csrf_exempt
@require_POST
def bare_insert(request):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_bare (body) VALUES (%s) RETURNING id", [request.body.decode()])
        (row_id,) = cursor.fetchone()
    return JsonResponse({"accepted": 1, "id": row_id}, status=202)
