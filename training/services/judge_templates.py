"""Versioned judge prompt templates per project: read the one in use, save an edit as a new version."""
from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Max

from annotation.errors import PrefStudioError
from annotation.models import Project

from ..engine.judging.templates import DEFAULT_TEMPLATES, check_template
from ..models import JudgeTemplate


def judge_template_get(*, project: Project, mode: str, name: str = "default", version: int | None = None) -> JudgeTemplate:
    """Version `version` (None: the latest) of the project's `name` template for `mode`.

    A project with no template of that mode and name starts at version 1 = the built-in default, which
    is created here, so every judge names a stored version.
    """
    if mode not in DEFAULT_TEMPLATES:
        raise PrefStudioError(f"mode must be one of {', '.join(DEFAULT_TEMPLATES)}, got {mode!r}", field="mode")
    templates = JudgeTemplate.objects.filter(project=project, mode=mode, name=name)
    found = templates.filter(version=version).first() if version is not None else templates.order_by("-version").first()
    if found is not None:
        return found
    if version not in (None, 1) or name != "default":
        wanted = f"version {version} of " if version is not None else ""
        raise PrefStudioError(f"project {project.slug!r} has no {wanted}{mode} template {name!r}", field="template_version")
    try:
        with transaction.atomic():
            return JudgeTemplate.objects.create(project=project, mode=mode, name=name, version=1,
                                                text=DEFAULT_TEMPLATES[mode])
    except IntegrityError:  # created meanwhile by a concurrent job
        return JudgeTemplate.objects.get(project=project, mode=mode, name=name, version=1)


@transaction.atomic
def judge_template_save(
    *, project: Project, mode: str, text: str, name: str = "default", user: AbstractBaseUser | None = None
) -> JudgeTemplate:
    """Save `text` as the next version of the project's `name` template for `mode` (versions are never edited).

    Raises PrefStudioError (field "text") when the text is not a usable template for the mode. Saving the
    same text as the latest version returns that version.
    """
    try:
        check_template(text, mode)
    except ValueError as exc:
        raise PrefStudioError(str(exc), field="text") from exc
    Project.objects.select_for_update().filter(pk=project.pk).first()  # one new version at a time per project
    latest = JudgeTemplate.objects.filter(project=project, mode=mode, name=name).order_by("-version").first()
    if latest is not None and latest.text == text:
        return latest
    if latest is None and name == "default" and text != DEFAULT_TEMPLATES[mode]:
        # Version 1 of the default series is always the built-in text, so "v1" means the same everywhere.
        JudgeTemplate.objects.create(project=project, mode=mode, name=name, version=1, text=DEFAULT_TEMPLATES[mode])
    top = JudgeTemplate.objects.filter(project=project, mode=mode, name=name).aggregate(v=Max("version"))["v"] or 0
    return JudgeTemplate.objects.create(project=project, mode=mode, name=name, version=top + 1, text=text, created_by=user)
