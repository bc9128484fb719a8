"""The ``folder`` reconciler: the smallest complete reconciler, and the example to copy.

Desired state: one file per CI in scope, named after the CI's registry id and name, holding
``template`` rendered for that CI.  Observe: read the folder.  Plan: create the missing files,
update those whose content differs and (option ``prune``) delete stale files: those of a CI in
scope under an old name, and those of CIs that no longer exist.  Files of existing CIs outside the
scope are left alone, so a run scoped to one tenant never touches another tenant's files.
Apply: write or delete exactly the stored items, one :class:`ItemOutcome` per item.

It is *not* registered by its app: writing files on the server is nothing a CMDB should offer
by default.  It is enabled by naming it in the ``RECONCILERS_EXTRA`` setting (the tests do), with
the folder in the ``RECONCILE_FOLDER_ROOT`` setting — a setting rather than an option, so nobody
who may start a run can choose where the server writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings

from cmdb.reconcile.base import DiffItem, ItemOutcome, Option, Reconciler, Target
from cmdb.reconcile.scope import Selection

#: What a CI's file holds unless the run's ``template`` option says otherwise (``str.format`` fields:
#: ``name``, ``kind``, ``ci_id``, ``status``).
DEFAULT_TEMPLATE = "{name} ({kind}) is {status}\n"


def _template_error(value: str) -> str | None:
    try:
        value.format(name="n", kind="k", ci_id=1, status="s")
    except (KeyError, IndexError, ValueError) as exc:
        return f"Use only the fields {{name}}, {{kind}}, {{ci_id}} and {{status}} ({exc})."
    return None


class FolderReconciler(Reconciler):
    """Files in a folder, one per CI (see the module docstring)."""

    name = "folder"
    summary = "Keeps one file per CI in a folder on the server (the framework's example)"
    kinds = ("dcim.device", "virtualization.virtualmachine")
    lease_ttl = 60
    options = (
        Option("template", str, DEFAULT_TEMPLATE, "Content of each CI's file ({name}, {kind}, {ci_id}, {status})",
               validate=_template_error),
        Option("prune", bool, True, "Delete stale files (a CI's old name, CIs that no longer exist)"),
    )

    @property
    def root(self) -> Path:
        return Path(getattr(settings, "RECONCILE_FOLDER_ROOT", None) or Path(settings.DATA_DIR) / "folder")

    @staticmethod
    def file_name(ci_id: int, name: str) -> str:
        return f"{ci_id}-{''.join(c if c.isalnum() or c in '-_.' else '_' for c in name)}.txt"

    def desired(self, selection: Selection) -> list[Target]:
        from cmdb.core.models import ConfigurationItem

        self._selected = set(selection.ci_ids)
        rows = ConfigurationItem.objects.filter(pk__in=selection.ci_ids).order_by("name", "pk")
        template = self.option("template")
        return [Target(name=self.file_name(ci.pk, ci.name), ci_id=ci.pk,
                       data={"content": template.format(name=ci.name, kind=ci.kind, ci_id=ci.pk, status=ci.status)})
                for ci in rows]

    def observe(self, desired: list[Target]) -> dict[str, str]:
        """File name → content of every file in the folder (reads only)."""
        if not self.root.is_dir():
            return {}
        return {p.name: p.read_text() for p in sorted(self.root.glob("*.txt")) if p.is_file()}

    def plan(self, desired: list[Target], observed: dict[str, str]) -> list[DiffItem]:
        items = []
        for t in desired:
            want, have = t.data["content"], observed.get(t.name)
            if have is None:
                items.append(DiffItem("create", t.name, "file", diff=f"+{want}", ci_id=t.ci_id, data={"content": want}))
            elif have != want:
                items.append(DiffItem("update", t.name, "file", diff=f"-{have}+{want}", ci_id=t.ci_id,
                                      data={"content": want}))
        if self.option("prune"):
            items += [DiffItem("delete", name, "file", diff=f"-{content}") for name, content in observed.items()
                      if name in self._stale(desired, observed)]
        return items

    def _stale(self, desired: list[Target], observed: dict[str, str]) -> set[str]:
        from cmdb.core.models import ConfigurationItem

        wanted = {t.name for t in desired}
        ids = {name: int(name.split("-", 1)[0]) for name in observed if name.split("-", 1)[0].isdigit()}
        existing = set(ConfigurationItem.objects.filter(pk__in=set(ids.values())).values_list("pk", flat=True))
        selected = getattr(self, "_selected", set())
        return {name for name, ci in ids.items()
                if name not in wanted and (ci in selected or ci not in existing)}

    def apply(self, desired: list[Target], items: list[DiffItem]) -> list[Any]:
        self.root.mkdir(parents=True, exist_ok=True)
        outcomes = []
        for index, item in enumerate(items):
            path = self.root / item.target
            try:
                if item.operation == "delete":
                    path.unlink()
                else:
                    path.write_text(item.data["content"])
            except OSError as exc:  # one file that cannot be written must not hide the others
                outcomes.append(ItemOutcome(index, "failed", f"{type(exc).__name__}: {exc.strerror or exc}"))
            else:
                outcomes.append(ItemOutcome(index, "ok"))
        return outcomes
