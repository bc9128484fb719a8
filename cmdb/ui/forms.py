"""Model forms that only parse input: validation and the write itself belong to the core services.

A ModelForm would run ``full_clean`` and save on its own; here ``_post_clean`` is
a no-op and the view hands ``cleaned_data`` to ``objects_create``/``objects_update``,
whose per-field errors are put back on the form's fields.  Choices of related
objects come from ``reference_queryset`` (the writer's tenants or shared objects),
exactly as in the API.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import models
from django.forms.models import modelform_factory

from cmdb.api.registry import endpoint_path
from cmdb.users.permissions import reference_queryset

from .registry import ModelView, is_large


class ParseOnlyModelForm(forms.ModelForm):
    def _post_clean(self) -> None:  # the services validate the model
        return None


def _formfield(view: ModelView, user: Any, action: str, instance: Any, bulk: bool) -> Any:
    def callback(f: models.Field, **kwargs: Any) -> forms.Field | None:
        if isinstance(f, models.URLField):
            kwargs["assume_scheme"] = "https"
        field = f.formfield(**kwargs)
        if field is None:
            return None
        if isinstance(f, (models.DateField,)) and not isinstance(f, models.DateTimeField):
            field.widget = forms.DateInput(attrs={"type": "date"})
        if f.is_relation and f.related_model is not None and hasattr(field, "queryset"):
            related = f.related_model
            qs = reference_queryset(related._default_manager.all(), user, view.model, action, field=f.name)
            hook = view.form_querysets.get(f.name)
            if hook is not None:
                qs = hook(instance, qs)
            field.queryset = qs
            if is_large(related) and hook is None and not f.many_to_many:
                field.widget = forms.NumberInput(attrs={"placeholder": f"{related._meta.verbose_name} ID"})
                field.help_text = f"ID of the {related._meta.verbose_name}"
            parent = view.dependent.get(f.name)
            if parent is not None and not bulk:
                api = endpoint_path(related)
                if api:
                    field.widget.attrs.update({"data-depends-on": parent[0], "data-options-url": f"/api/{api}/",
                                               "data-filter": parent[1]})
                parent_id = getattr(instance, f"{parent[0]}_id", None) if instance is not None else None
                if parent_id:
                    field.queryset = qs.filter(**{f"{parent[0]}_id": parent_id})
        if bulk:
            # Every field starts at "no change": a model default shown as the initial value
            # (Status = Active, Criticality = Medium) would be submitted and applied to every
            # selected object although the user never touched it.
            field.required = False
            field.initial = None
            field.show_hidden_initial = False
            if isinstance(field, forms.TypedChoiceField) or (
                isinstance(field, forms.ChoiceField) and not hasattr(field, "queryset")
            ):
                field.choices = [("", "— no change —"), *[c for c in field.choices if c[0] != ""]]
            if isinstance(field, forms.ModelChoiceField) and not isinstance(field, forms.ModelMultipleChoiceField):
                field.empty_label = "— no change —"
            if isinstance(f, models.BooleanField):
                field = forms.NullBooleanField(label=field.label, required=False, widget=forms.Select(
                    choices=[("unknown", "— no change —"), ("true", "Yes"), ("false", "No")]))
        return field

    return callback


def object_form(view: ModelView, user: Any, *, instance: Any = None, data: Any = None,
                initial: dict[str, Any] | None = None) -> forms.ModelForm:
    action = "change" if instance is not None and instance.pk else "add"
    form_class = modelform_factory(view.model, form=ParseOnlyModelForm, fields=view.form_fields,
                                   formfield_callback=_formfield(view, user, action, instance, bulk=False))
    return form_class(data=data, instance=instance, initial=initial)


def bulk_form(view: ModelView, user: Any, data: Any = None) -> forms.ModelForm:
    form_class = modelform_factory(view.model, form=ParseOnlyModelForm, fields=view.bulk_fields,
                                   formfield_callback=_formfield(view, user, "change", None, bulk=True))
    return form_class(data=data)


def changes_from(form: forms.ModelForm, names: list[str], *, only_changed: bool) -> dict[str, Any]:
    """Attribute values for the services; many-to-many values as lists."""
    out: dict[str, Any] = {}
    for name in names:
        if name not in form.cleaned_data or (only_changed and name not in form.changed_data):
            continue
        value = form.cleaned_data[name]
        if hasattr(value, "all") and not isinstance(value, models.Model):
            value = list(value)
        out[name] = value
    return out


def bulk_changes(form: forms.ModelForm, names: list[str]) -> dict[str, Any]:
    """Only the fields the user set: empty ("— no change —", a blank input, no tag chosen) means "no change".

    With every field's initial value empty (see ``_formfield``), an untouched form yields
    no changes at all, and a form with one field set changes only that field.
    """
    out: dict[str, Any] = {}
    for name in names:
        value = form.cleaned_data.get(name)
        if value in (None, "") or (hasattr(value, "exists") and not value.exists()):
            continue
        out[name] = list(value) if hasattr(value, "exists") else value
    return out


class JournalForm(forms.Form):
    kind = forms.ChoiceField(choices=[])
    comments = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=10000)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from cmdb.extras.models import JournalKind

        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = JournalKind.choices
