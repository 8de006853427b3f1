from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from reflectlab.projects.models import Membership, Project
from reflectlab.prompts.models import Prompt
from reflectlab.traces.analysis import analysis_columns
from reflectlab.traces.models import Trace

RESPONSE = (
    "We need 2 + 3.\n\n2 + 3 = 5.\n\nWait, let me double-check: 3 + 2 = 5. Yes.\n"
    "</think>\n\nThe answer is \\boxed{5}."
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "pw-123456")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = "annotator"


class PromptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Prompt

    project = factory.SubFactory(ProjectFactory)
    external_id = factory.Sequence(lambda n: f"p{n}")
    text = "What is 2 + 3?"
    reference_answer = "5"


class TraceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Trace

    project = factory.SubFactory(ProjectFactory)
    prompt = factory.LazyAttribute(lambda o: PromptFactory(project=o.project))
    external_id = factory.Sequence(lambda n: f"t{n}")
    model_name = "test/model"
    raw_response = RESPONSE

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        columns = analysis_columns(
            response=kwargs["raw_response"],
            reasoning=kwargs.get("reasoning", ""),
            reference=kwargs["prompt"].reference_answer,
        )
        return super()._create(model_class, *args, **{**columns, **kwargs})
