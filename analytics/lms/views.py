"""School admin pages for the API: keys (created, shown once, revoked) and webhooks (with their delivery log).

Mounted at /school/integrations/. Objects are looked up inside the admin's school scope (set by the middleware),
so another school's key or webhook is a 404.
"""

from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from classes.access import role_required
from classes.models import Role

from . import webhooks
from .forms import ApiKeyForm, WebhookForm
from .models import ApiKey, Delivery, DeliveryKind, DeliveryStatus, Webhook, new_webhook_secret


def school_admin_required(view):
    @role_required(Role.ADMIN)
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_school_admin:
            raise PermissionDenied(_("Integrations belong to a school; log in as one of its admins."))
        return view(request, *args, **kwargs)

    return wrapped


def _home_context(request, **extra) -> dict:
    return {
        "keys": ApiKey.objects.select_related("created_by").order_by("revoked_at", "-created_at"),
        "webhooks": Webhook.objects.order_by("created_at"),
        "key_form": ApiKeyForm(),
        "webhook_form": WebhookForm(),
        "api_base": request.build_absolute_uri(reverse("api-me")).removesuffix("me/"),
        **extra,
    }


@require_GET
@school_admin_required
def integrations_home(request):
    return render(request, "api/integrations.html", _home_context(request))


@require_POST
@school_admin_required
def key_create(request):
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return render(request, "api/integrations.html", _home_context(request, key_form=form), status=400)
    key, raw = ApiKey.issue(
        request.user.school, form.cleaned_data["name"], form.cleaned_data["scope"], created_by=request.user
    )
    # Rendered, not redirected: the full key exists only in this response.
    response = render(request, "api/key_created.html", {"key": key, "raw_key": raw})
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@school_admin_required
def key_revoke(request, key_uuid):
    key = get_object_or_404(ApiKey.objects, uuid=key_uuid)
    key.revoke()
    messages.success(
        request,
        _("The key “%(name)s” is revoked: requests with it are refused from now on.") % {"name": key.name},
    )
    return redirect("api_integrations")


@require_POST
@school_admin_required
def webhook_create(request):
    form = WebhookForm(request.POST)
    if not form.is_valid():
        return render(request, "api/integrations.html", _home_context(request, webhook_form=form), status=400)
    webhook = form.save(commit=False)
    webhook.school = request.user.school
    webhook.save()
    messages.success(request, _("Webhook added. Copy its signing secret into your endpoint's configuration."))
    return redirect("api_webhook", webhook_uuid=webhook.uuid)


@require_GET
@school_admin_required
def webhook_detail(request, webhook_uuid):
    webhook = get_object_or_404(Webhook.objects, uuid=webhook_uuid)
    deliveries = Paginator(webhook.deliveries.order_by("-created_at", "-pk"), 50).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "api/webhook_detail.html",
        {
            "webhook": webhook,
            "form": WebhookForm(instance=webhook),
            "deliveries": deliveries,
            "statuses": DeliveryStatus,
            "max_attempts": webhooks.MAX_ATTEMPTS,
            "signature_header": webhooks.SIGNATURE_HEADER,
        },
    )


@require_POST
@school_admin_required
def webhook_update(request, webhook_uuid):
    webhook = get_object_or_404(Webhook.objects, uuid=webhook_uuid)
    form = WebhookForm(request.POST, instance=webhook)
    if form.is_valid():
        form.save()
        messages.success(request, _("Webhook saved."))
        return redirect("api_webhook", webhook_uuid=webhook.uuid)
    deliveries = Paginator(webhook.deliveries.order_by("-created_at", "-pk"), 50).get_page(1)
    context = {
        "webhook": webhook,
        "form": form,
        "deliveries": deliveries,
        "max_attempts": webhooks.MAX_ATTEMPTS,
    }
    return render(request, "api/webhook_detail.html", context, status=400)


@require_POST
@school_admin_required
def webhook_action(request, webhook_uuid, action):
    webhook = get_object_or_404(Webhook.objects, uuid=webhook_uuid)
    if action == "toggle":
        webhook.is_active = not webhook.is_active
        webhook.save(update_fields=["is_active"])
        messages.success(
            request, "Webhook enabled." if webhook.is_active else "Webhook paused: no new deliveries."
        )
    elif action == "rotate":
        webhook.secret = new_webhook_secret()
        webhook.save(update_fields=["secret"])
        messages.success(
            request, _("New signing secret: update your endpoint; the old one no longer matches.")
        )
    elif action == "ping":
        delivery = webhooks.send_ping(webhook)
        if delivery.status == DeliveryStatus.SUCCEEDED:
            messages.success(
                request,
                _("Test event delivered (HTTP %(response_status)s).")
                % {"response_status": delivery.response_status},
            )
        else:
            messages.error(
                request,
                _("Test event not delivered: %(error)s.") % {"error": delivery.last_error or _("no answer")},
            )
    elif action == "delete":
        webhook.delete()
        messages.success(request, _("Webhook deleted with its delivery log."))
        return redirect("api_integrations")
    else:
        raise PermissionDenied(_("Unknown action."))
    return redirect("api_webhook", webhook_uuid=webhook.uuid)


@require_POST
@school_admin_required
def delivery_retry(request, delivery_uuid):
    delivery = get_object_or_404(
        Delivery.objects.filter(kind=DeliveryKind.WEBHOOK).select_related("webhook"), uuid=delivery_uuid
    )
    if delivery.status == DeliveryStatus.SUCCEEDED:
        messages.info(request, _("That delivery already succeeded."))
    else:
        webhooks.redeliver(delivery)
        if delivery.status == DeliveryStatus.SUCCEEDED:
            messages.success(request, _("Delivered."))
        else:
            messages.error(request, _("Still failing: %(last_error)s.") % {"last_error": delivery.last_error})
    return redirect("api_webhook", webhook_uuid=delivery.webhook.uuid)
