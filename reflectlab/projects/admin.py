from django import forms
from django.contrib import admin

from reflectlab.projects import validators
from reflectlab.projects.models import Membership, Project


class ProjectAdminForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = [
            "name",
            "description",
            "guidelines",
            "principles",
            "error_categories",
            "overlap",
            "queue_policy",
            "lexicon",
        ]

    def clean_lexicon(self):
        return validators.validate_lexicon(self.cleaned_data["lexicon"])


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    form = ProjectAdminForm
    list_display = ["name", "overlap", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["project", "user", "role"]
    list_filter = ["role"]
    raw_id_fields = ["user", "project"]
