"""The school admin's LRS page: settings, the test statement with the LRS's answer, and the statement log with
resends. Mounted at /school/integrations/lrs/; the Integrations page shows a summary (templates/api/_lrs.html).

Rows are looked up inside the admin's school scope (set by the middleware): another school's statement is a 404.
"""

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from .. import outbox
from ..models import Delivery, DeliveryKind, DeliveryStatus
from ..views import school_admin_required
from . import services
from .forms import LrsSettingsForm
from .models import LrsSettings
from .summary import lrs_counts

LOG_PAGE_SIZE = 50


def _settings(request) -> LrsSettings | None:
    return LrsSettings.objects.select_related("school").filter(school=request.user.school).first()


def _default_platform_url(request) -> str:
    return getattr(settings, "FERMONITOR_PUBLIC_URL", "") or request.build_absolute_uri("/").rstrip("/")


def _page(request, lrs: LrsSettings | None, form: LrsSettingsForm | None = None, status: int = 200):
    if form is None:
        initial = {} if lrs else {"platform_url": _default_platform_url(request)}
        form = LrsSettingsForm(instance=lrs, school=request.user.school, initial=initial)
    log = None
    shown = request.GET.get("status", "")
    if lrs is not None:
        rows = Delivery.objects.filter(lrs=lrs).select_related("session").order_by("-created_at", "-pk")
        if shown in DeliveryStatus.values:
            rows = rows.filter(status=shown)
        log = Paginator(rows, LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "lrs": lrs,
        "form": form,
        "log": log,
        "shown": shown,
        "counts": lrs_counts(lrs),
        "statuses": DeliveryStatus,
        "presence_only": request.user.school.presence_only,
    }
    return render(request, "api/lrs.html", context, status=status)


@require_GET
@school_admin_required
def lrs_page(request):
    return _page(request, _settings(request))


@require_POST
@school_admin_required
def lrs_save(request):
    lrs = _settings(request)
    form = LrsSettingsForm(request.POST, instance=lrs, school=request.user.school)
    if not form.is_valid():
        return _page(request, lrs, form, status=400)
    lrs = form.save()
    if lrs.enabled:
        messages.success(
            request, _("LRS settings saved. Statements of lessons that end from now on go to it.")
        )
    else:
        messages.success(request, _("LRS settings saved. Sending is switched off."))
    return redirect("xapi_lrs")


@require_POST
@school_admin_required
def lrs_test(request):
    lrs = _settings(request)
    if lrs is None:
        messages.error(request, _("Save the LRS settings first."))
        return redirect("xapi_lrs")
    result = services.send_test_statement(lrs, request.user)
    if result.ok:
        messages.success(
            request, _("The LRS stored the test statement: %(answer)s") % {"answer": result.answer}
        )
    else:
        messages.error(
            request, _("The LRS did not take the test statement: %(answer)s") % {"answer": result.answer}
        )
    return redirect("xapi_lrs")


@require_POST
@school_admin_required
def resend_failed(request):
    lrs = get_object_or_404(LrsSettings.objects.select_related("school"), school=request.user.school)
    pks = services.resend_failed(lrs)
    outbox.kick(lrs.school_id, pks)
    messages.success(request, _("%(count)d statements queued to be sent again.") % {"count": len(pks)})
    return redirect("xapi_lrs")


@require_POST
@school_admin_required
def resend_one(request, delivery_uuid):
    row = get_object_or_404(
        Delivery.objects.filter(kind=DeliveryKind.XAPI).select_related("lrs", "lrs__school"),
        uuid=delivery_uuid,
    )
    if row.status == DeliveryStatus.SUCCEEDED:
        messages.info(request, _("That statement is already in the LRS."))
    else:
        outbox.kick(row.school_id, services.resend([row]))
        messages.success(request, _("Queued to be sent again."))
    return redirect("xapi_lrs")
