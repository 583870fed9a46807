"""`{{ obj|admin_object_id }}`: the id the admin's URLs use for an object (its UUID where it has one; see
`classes.admin_site.admin_object_id`). Used by the admin templates overridden in templates/admin/."""

from django import template

from classes.admin_site import admin_object_id as object_id

register = template.Library()


@register.filter
def admin_object_id(obj):
    return object_id(obj)
