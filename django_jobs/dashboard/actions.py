"""POST endpoints behind the dashboard's buttons; each answers with a redirect and a message."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from .. import runner as runner_switch
from ..models import Job
from . import breakdown, listing
from .access import allowed, requires
from .steer import VERBS, apply
from .views import render

# More ids than this in one "selected" post is not a selection a person made.
MAX_SELECTED = 1000
# One request steers at most this many jobs, each through its service call; past
# it the confirmation asks for a narrower filter instead of timing out half done.
MAX_BULK = 10_000


def _back(request: HttpRequest, default: str) -> HttpResponseRedirect:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = default
    return HttpResponseRedirect(target or default)


def _verb(request: HttpRequest, verb: str) -> None:
    if verb not in VERBS:
        raise Http404(f"no such action {verb!r}")
    if not allowed(request.user, VERBS[verb].permission):
        raise PermissionDenied


@require_POST
@requires("view")
def job_action(request: HttpRequest, pk: int, verb: str) -> HttpResponse:
    _verb(request, verb)
    messages.info(request, apply(verb, [pk]))
    if verb == "delete":
        return _back(request, reverse("django_jobs_dashboard:jobs"))
    return _back(request, reverse("django_jobs_dashboard:job", args=[pk]))


@require_POST
@requires("view")
def bulk(request: HttpRequest) -> HttpResponse:
    """Selected jobs or every job matching the filter; nothing happens before a confirmation."""
    verb = request.POST.get("verb", "")
    _verb(request, verb)
    everything = request.POST.get("scope") == "all"
    if everything:
        targets = listing.listing(request.POST).queryset
    else:
        try:
            ids = sorted({int(pk) for pk in request.POST.getlist("ids")})
        except ValueError:
            ids = []
        if not ids or len(ids) > MAX_SELECTED:
            messages.error(
                request, f"Select between 1 and {MAX_SELECTED} jobs, or act on all matching."
            )
            return _back(request, reverse("django_jobs_dashboard:jobs"))
        targets = Job.objects.filter(pk__in=ids)
    count = targets.count()
    if request.POST.get("confirmed") != "yes" or count > MAX_BULK:
        return render(
            request,
            "confirm.html",
            "jobs",
            verb=verb,
            action=VERBS[verb],
            count=count,
            too_many=count > MAX_BULK,
            limit=MAX_BULK,
            everything=everything,
            fields=[(k, v) for k, v in request.POST.lists() if k != "csrfmiddlewaretoken"],
        )
    pks = list(targets.order_by("pk").values_list("pk", flat=True))
    messages.info(request, apply(verb, pks))
    return _back(request, reverse("django_jobs_dashboard:jobs"))


@require_POST
@requires("retry")
def retry_failures(request: HttpRequest) -> HttpResponse:
    """Retry every failed job of one failure group (handler and error type)."""
    jobs = breakdown.failed_jobs(
        request.POST.get("handler", ""), request.POST.get("error_type", "")
    )
    pks = list(jobs.order_by("pk").values_list("pk", flat=True))
    messages.info(request, apply("retry", pks) if pks else "Nothing to retry")
    return _back(request, reverse("django_jobs_dashboard:failures"))


@require_POST
@requires("control_runner")
def runner(request: HttpRequest) -> HttpResponse:
    wanted = request.POST.get("runner")
    if wanted not in ("start", "stop"):
        messages.error(request, "Choose start or stop.")
    else:
        if wanted == "start":
            runner_switch.start()
        else:
            runner_switch.stop()
        messages.success(
            request,
            "Runner started: workers take jobs."
            if wanted == "start"
            else "Runner stopped: workers finish what they run and take nothing new.",
        )
    return _back(request, reverse("django_jobs_dashboard:workers"))
