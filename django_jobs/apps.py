from django.apps import AppConfig


class DjangoJobsConfig(AppConfig):
    name = "django_jobs"
    verbose_name = "Jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.utils.module_loading import autodiscover_modules

        from . import autostart, checks  # importing checks registers the system checks
        from .conf import jobs_settings
        from .registry import registry
        from .tasks import discovery

        # A HANDLERS entry that cannot be loaded is reported by the system check
        # (django_jobs.E003), which keeps runjobs from starting; any other error
        # while loading is not hidden.
        if not checks.handler_errors():
            registry.load_setting(jobs_settings.HANDLERS)
        autodiscover_modules("jobs")
        from .webhooks import delivery, events

        registry.register(events.DELIVER, delivery.deliver)
        events.connect()
        discovery.autodiscover()  # tasks.py modules, when TASKS uses django_jobs.tasks
        autostart.at_startup()
