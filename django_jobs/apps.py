from django.apps import AppConfig


class DjangoJobsConfig(AppConfig):
    name = "django_jobs"
    verbose_name = "Jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.utils.module_loading import autodiscover_modules

        from . import autostart, checks  # noqa: F401 - checks registers the system checks
        from .conf import jobs_settings
        from .registry import registry
        from .tasks import discovery

        try:
            registry.load_setting(jobs_settings.HANDLERS)
        except Exception:
            pass
        autodiscover_modules("jobs")
        from .webhooks import delivery, events

        registry.register(events.DELIVER, delivery.deliver)
        events.connect()
        discovery.autodiscover()  # tasks.py modules, when TASKS uses django_jobs.tasks
        autostart.at_startup()
