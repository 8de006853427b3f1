from django.apps import AppConfig


class JudgesConfig(AppConfig):
    name = "reflectlab.judges"
    label = "judges"
    verbose_name = "Judges and suggestions"

    def ready(self) -> None:
        # The queue policy keys on judge suggestions (review owns the registry;
        # judges depends on review, never the other way round).
        from reflectlab.judges.routing import ORDER_KEYS
        from reflectlab.review import policy

        policy.ORDER_KEYS.update(ORDER_KEYS)
