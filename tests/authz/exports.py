"""Exports: any member lists; reviewers and managers start, cancel and download
(the files carry every annotator's names, labels and critiques).

``api-exports`` POST needs the reviewer role — tested in tests/exports/test_views.py,
as the matrix holds one role per URL name.
"""

from tests.authz import Rule


def _export(world):
    from django.core.files.base import ContentFile

    from reflectlab.core.storage import exports_storage
    from reflectlab.exports.models import Export

    export = world.__dict__.get("_export")
    if export is None:
        export = Export.objects.create(
            project=world.project,
            kind="preference",
            format="jsonl",
            state="succeeded",
            file_name="preference.jsonl",
        )
        exports_storage().save(export.key, ContentFile(b""))
        world.__dict__["_export"] = export
    return export


def _running(world):
    from reflectlab.exports.models import Export

    return Export.objects.create(
        project=world.project, kind="preference", format="jsonl", state="running"
    )


P = lambda w: {"project_id": w.project.pk}  # noqa: E731
E = lambda w: {"project_id": w.project.pk, "export_id": _export(w).pk}  # noqa: E731

RULES = {
    "exports:list": Rule("annotator", P),
    "exports:create": Rule(
        "reviewer",
        P,
        methods=("POST",),
        data=lambda w: {
            "kind": "preference",
            "format": "jsonl",
            "hint_mode": "inline",
            "reasoning": "think_tags",
            "branch_filter": "correct",
            "train_ratio": "0.9",
            "accepted_only": "on",
        },
    ),
    "exports:detail": Rule("annotator", E),
    "exports:download": Rule("reviewer", E),
    "exports:cancel": Rule(
        "reviewer",
        lambda w: {"project_id": w.project.pk, "export_id": _running(w).pk},
        methods=("POST",),
    ),
    "api-exports": Rule("annotator", P, api=True),
    "api-export": Rule("annotator", lambda w: {"export_id": _export(w).pk}, api=True),
    "api-export-download": Rule("reviewer", lambda w: {"export_id": _export(w).pk}, api=True),
    "api-export-cancel": Rule(
        "reviewer", lambda w: {"export_id": _running(w).pk}, api=True, methods=("POST",)
    ),
}
