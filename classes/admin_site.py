"""The Django admin, open to platform operators (superusers, every school) and to school admins (their own school
only: the request already runs in their school's scope, and `SchoolScopedAdmin` filters the unscoped User model)."""

from django.contrib import admin


class FermonitorAdminSite(admin.AdminSite):
    site_header = "fermonitor administration"
    site_title = "fermonitor admin"
    index_title = "Data administration"

    def has_permission(self, request):
        user = request.user
        return user.is_active and (user.is_superuser or (user.is_school_admin and user.is_staff))


site = FermonitorAdminSite(name="admin")
