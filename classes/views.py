from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render

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
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
