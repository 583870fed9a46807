from django.apps import AppConfig


class ClassesConfig(AppConfig):
    name = "classes"
    verbose_name = "Schools and classes"

    def ready(self):
        from .admin_site import link_read_only_relations_by_admin_id

        link_read_only_relations_by_admin_id()
