"""An async view that enqueues, as an async project would."""

from django.http import JsonResponse

from django_jobs import aenqueue


async def signup(request):
    job = await aenqueue("echo", {"user": request.GET.get("user", "")}, queue="mail")
    return JsonResponse({"job": job.pk})
