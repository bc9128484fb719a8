from __future__ import annotations

import json
from typing import Any

from django import forms

from .models import Schedule
from .registry import registered_jobs


class ScheduleForm(forms.ModelForm):
    job_name = forms.ChoiceField(choices=())
    kwargs = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False, initial="{}",
                             help_text="Keyword arguments as a JSON object")

    class Meta:
        model = Schedule
        fields = ["name", "job_name", "cron", "kwargs", "enabled", "description"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["job_name"].choices = [(n, n) for n in sorted(registered_jobs())]
        if self.instance.pk:
            self.initial["kwargs"] = json.dumps(self.instance.kwargs, indent=2)

    def clean_kwargs(self) -> dict[str, Any]:
        raw = self.cleaned_data.get("kwargs") or "{}"
        try:
            value = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise forms.ValidationError("Give a JSON object.")
        return value
