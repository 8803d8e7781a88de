"""The job form: the same field rules as the Python and REST APIs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib.admin import widgets
from django.core.exceptions import ValidationError
from django.db import router
from django.forms.fields import InvalidJSONInput, JSONString

from .. import creating, dependencies, steering, validation
from ..conf import jobs_settings
from ..exceptions import InvalidJob, InvalidSchedule
from ..models import DependencyFailure, Job
from ..registry import registry

FORM_FIELDS = (
    "name",
    "handler",
    "data",
    "schedule",
    "timezone",
    "max_attempts",
    *creating.JOB_OPTIONS,
)


class PrettyJSONField(forms.JSONField):
    """A JSON textarea that shows the data indented, as people read it.

    Typed-in text goes through ``validation.parse_data_text``: its depth is
    bounded before it is parsed, and what no database stores is a form error.
    """

    def to_python(self, value: Any) -> Any:
        if self.disabled or not isinstance(value, str) or value in self.empty_values:
            return super().to_python(value)
        converted = _rule(validation.parse_data_text, value)
        return JSONString(converted) if isinstance(converted, str) else converted

    def bound_data(self, data: Any, initial: Any) -> Any:
        if self.disabled or not isinstance(data, str):
            return super().bound_data(data, initial)
        try:
            return validation.parse_data_text(data)
        except InvalidJob:
            return InvalidJSONInput(data)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False, cls=self.encoder)


def _rule(check: Callable[..., Any], *args: Any) -> Any:
    """Run a ``validation.clean_*`` rule and turn its complaint into a form error."""
    try:
        return check(*args)
    except (InvalidJob, InvalidSchedule) as exc:
        raise ValidationError(getattr(exc, "message", str(exc))) from None


class JobForm(forms.ModelForm):
    handler = forms.ChoiceField(help_text="Only registered handlers can run.")
    data = PrettyJSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 80, "class": "vLargeTextField"}),
        help_text="JSON passed to the handler.",
    )
    run_at = forms.SplitDateTimeField(
        required=False,
        widget=widgets.AdminSplitDateTime,
        label="Run at",
        help_text="One-time jobs only: when to run. Empty: now (or, when editing, unchanged).",
    )

    # Only on the add page: what a job waits for is set when it is created.
    depends_on = forms.CharField(
        required=False,
        label="Depends on",
        help_text="Ids of one-time jobs it waits for, separated by commas. Empty: none.",
    )
    on_dependency_failure = forms.ChoiceField(
        choices=DependencyFailure.choices,
        required=False,
        initial=DependencyFailure.CANCEL,
        label="If a dependency fails",
        help_text="When one of them fails for good or is cancelled: cancel this job, or run it.",
    )

    class Meta:
        model = Job
        fields = FORM_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = registry.names()
        current = self.instance.handler
        choices = [("", "---------")] + [(name, name) for name in names]
        if current and current not in names:
            choices.append((current, f"{current} (not registered)"))
        if "handler" in self.fields:
            self.fields["handler"].choices = choices
        if "max_attempts" in self.fields and self.instance.pk is None:
            self.fields["max_attempts"].initial = jobs_settings.DEFAULT_MAX_ATTEMPTS
        if "schedule" in self.fields:
            self.fields["schedule"].help_text = (
                "Cron (5 fields, e.g. 0 2 * * *) or an interval (30s, 5m, 2h, 1d). "
                "Empty: a one-time job."
            )
        if "timezone" in self.fields:
            self.fields["timezone"].label = "Time zone"
            self.fields["timezone"].help_text = (
                "IANA time zone the cron fields are read in, e.g. Europe/Paris. "
                "Empty: the site's TIME_ZONE."
            )

    def clean_name(self) -> str:
        return _rule(validation.clean_name, self.cleaned_data.get("name"))

    def clean_handler(self) -> str:
        return _rule(validation.clean_handler, self.cleaned_data.get("handler"))

    def clean_data(self) -> Any:
        limit = int(jobs_settings.MAX_DATA_BYTES)
        return _rule(
            lambda value: validation.clean_data(value, limit=limit), self.cleaned_data.get("data")
        )

    def clean_timezone(self) -> str:
        return _rule(validation.clean_timezone, self.cleaned_data.get("timezone"))

    def clean_max_attempts(self) -> int:
        return _rule(validation.clean_max_attempts, self.cleaned_data.get("max_attempts"))

    def clean_queue(self) -> str:
        return _rule(validation.clean_queue, self.cleaned_data.get("queue"))

    def clean_priority(self) -> int:
        return _rule(validation.clean_priority, self.cleaned_data.get("priority"))

    def clean_timeout(self) -> float | None:
        return _rule(validation.clean_seconds, "timeout", self.cleaned_data.get("timeout"))

    def clean_misfire_grace(self) -> float | None:
        return _rule(
            validation.clean_seconds, "misfire_grace", self.cleaned_data.get("misfire_grace")
        )

    def clean_depends_on(self) -> list[int]:
        text = self.cleaned_data.get("depends_on") or ""
        entries = [entry.strip() for entry in text.replace(",", " ").split()]
        if not all(entry.isascii() and entry.isdigit() for entry in entries):
            raise ValidationError("Give job ids (whole numbers) separated by commas.")
        return _rule(dependencies.clean_ids, [int(entry) for entry in entries])

    def clean_on_dependency_failure(self) -> str:
        value = self.cleaned_data.get("on_dependency_failure") or None
        return _rule(dependencies.clean_on_dependency_failure, value)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.instance.pk is not None and not steering.may("edit", self.instance):
            raise ValidationError("This job is running and cannot be edited; cancel it or wait.")
        if "schedule" in cleaned and "timezone" in cleaned:
            try:
                cleaned["schedule"] = validation.clean_schedule(
                    cleaned["schedule"], cleaned["timezone"]
                )
            except InvalidSchedule as exc:
                self.add_error("schedule", str(exc))
        if cleaned.get("schedule") and cleaned.get("run_at"):
            self.add_error(
                "run_at", "Run at is for one-time jobs; a recurring job follows its schedule."
            )
        if self.instance.pk is None and not self.errors:
            self._check_new(cleaned)
        elif not self.errors:
            self._check_name(cleaned.get("name", self.instance.name), cleaned.get("schedule"))
        return cleaned

    def _check_name(self, name: str, schedule: str | None) -> bool:
        """Say early that a recurring name is taken; the insert or update is what refuses it."""
        if schedule is None:
            schedule = self.instance.schedule
        if schedule and creating.recurring_name_taken(name, exclude=self.instance.pk):
            message = creating.name_clash(name).message
            self.add_error("name", f"{message[:1].upper()}{message[1:]}.")
            return False
        return True

    def _check_new(self, cleaned: dict[str, Any]) -> None:
        """Build the job as the API does, so every rule is checked before anything is saved."""
        name = cleaned["name"]
        if not self._check_name(name, cleaned["schedule"]):
            return
        try:
            self.built = creating.build_job(
                cleaned["handler"],
                cleaned["data"],
                name=name,
                schedule=cleaned["schedule"],
                timezone_name=cleaned["timezone"],
                max_attempts=cleaned["max_attempts"],
                run_at=cleaned.get("run_at"),
                **{field: cleaned[field] for field in creating.JOB_OPTIONS},
            )
        except InvalidJob as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)
            return
        except (InvalidSchedule, OverflowError) as exc:
            self.add_error("schedule", str(exc))
            return
        if cleaned.get("depends_on"):
            if self.built.schedule:
                self.add_error("depends_on", "Depends on is for one-time jobs.")
                return
            try:  # said early; the insert, which locks them, is what decides
                dependencies.check(cleaned["depends_on"], router.db_for_write(Job))
            except InvalidJob as exc:
                self.add_error("depends_on", f"{exc.message[:1].upper()}{exc.message[1:]}.")
                return
        # The model's constraints are checked next; give it the computed first run.
        self.instance.next_run_at = self.instance.scheduled_for = self.built.next_run_at

    def job_changes(self) -> dict[str, Any]:
        """What the user changed, for ``creating.update`` (which writes only those fields)."""
        changes = {
            field: self.cleaned_data[field] for field in self.changed_data if field in FORM_FIELDS
        }
        if self.cleaned_data.get("run_at") is not None:
            changes["run_at"] = self.cleaned_data["run_at"]
        return changes
