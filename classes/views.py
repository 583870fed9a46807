from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import check_for_language
from django.views import i18n as i18n_views
from django.views.decorators.http import require_POST

from .models import Role

ROLE_HOMES = {Role.TEACHER: "teacher_home", Role.STUDENT: "student_home", Role.ADMIN: "school_admin_home"}


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


@login_required
def home(request):
    """Send each role to its own start page."""
    user = request.user
    if user.is_superuser and user.school_id is None:
        return redirect("admin:index")
    target = ROLE_HOMES.get(user.role)
    if target is None:
        return render(request, "home_no_role.html", status=403)
    return redirect(target)


def healthz(request):
    """Liveness: the process serves requests. Deliberately touches neither the database nor Redis (an outage
    of either must not make an orchestrator restart every process); readiness is `/readyz`."""
    return JsonResponse({"status": "ok"})


@require_POST
def set_language(request):
    """The language switcher: Django's view sets the cookie and redirects back; a signed-in user's choice is also
    stored on their account, so it follows them to any device."""
    response = i18n_views.set_language(request)
    language = request.POST.get("language", "")
    if (
        request.user.is_authenticated
        and check_for_language(language)
        and language in dict(settings.LANGUAGES)
    ):
        request.user.language = language
        request.user.save(update_fields=["language"])
    return response
