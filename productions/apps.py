from django.apps import AppConfig


class ProductionsConfig(AppConfig):
    name = "productions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, tasks  # noqa: F401  (registers the settings checks, the Huey tasks and the worker hooks)
        from .access import connect_signals

        connect_signals()
