from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "reflectlab.review"
    label = "review"
