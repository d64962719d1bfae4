from django.apps import AppConfig


class ProductionsConfig(AppConfig):
    name = "productions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        from tower.datadir import prepare_data_dir

        # The settings make nothing on disk when imported; the app makes its data folder when it starts.
        prepare_data_dir(settings.DATA_DIR)
        from django.core.signals import setting_changed

        from .media_config import apply_process_settings

        apply_process_settings()
        setting_changed.connect(apply_process_settings, dispatch_uid="tower-media-config")
        from . import checks, tasks  # noqa: F401  (registers the settings checks, the Huey tasks and the worker hooks)
        from .access import connect_signals

        connect_signals()
