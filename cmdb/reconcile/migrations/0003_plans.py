"""Stored plans: ``Plan`` and ``PlanItem`` replace a run's ``ReconcileAction`` rows.

Every run that has actions gets a plan (fingerprint left empty: a plan from before fingerprints can
be read, not applied, since no fresh plan can match it) whose items are its actions, outcome = result.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def actions_to_plans(apps, schema_editor):
    Run = apps.get_model("reconcile", "ReconcileRun")
    Action = apps.get_model("reconcile", "ReconcileAction")
    Plan = apps.get_model("reconcile", "Plan")
    PlanItem = apps.get_model("reconcile", "PlanItem")
    run_ids = set(Action.objects.values_list("run_id", flat=True).distinct())
    for run in Run.objects.filter(pk__in=run_ids).order_by("pk").iterator():
        plan = Plan.objects.create(reconciler=run.reconciler, scope=run.scope, options={}, fingerprint="",
                                   created_by_id=run.user_id, tenant_id=run.tenant_id, targets=run.targets)
        Plan.objects.filter(pk=plan.pk).update(created=run.created)
        PlanItem.objects.bulk_create(
            PlanItem(plan=plan, index=a.index, ci_id=a.ci_id, target=a.target, operation=a.operation,
                     resource=a.resource, diff=a.diff, data=a.data, outcome=a.result, message=a.message)
            for a in Action.objects.filter(run_id=run.pk).order_by("index"))
        Run.objects.filter(pk=run.pk).update(plan=plan)


def plans_to_actions(apps, schema_editor):
    Run = apps.get_model("reconcile", "ReconcileRun")
    Action = apps.get_model("reconcile", "ReconcileAction")
    PlanItem = apps.get_model("reconcile", "PlanItem")
    for run in Run.objects.exclude(plan=None).order_by("pk").iterator():
        Action.objects.bulk_create(
            Action(run_id=run.pk, index=i.index, ci_id=i.ci_id, target=i.target, operation=i.operation,
                   resource=i.resource, diff=i.diff, data=i.data, result=i.outcome, message=i.message)
            for i in PlanItem.objects.filter(plan_id=run.plan_id).order_by("index"))


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0001_initial"),
        ("reconcile", "0002_reconcilerun_tenant"),
        ("tenancy", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Plan",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("reconciler", models.CharField(db_index=True, max_length=50)),
                ("scope", models.CharField(default="all", max_length=200)),
                ("options", models.JSONField(blank=True, default=dict)),
                ("fingerprint", models.CharField(help_text="SHA-256 of desired state and observation", max_length=64)),
                ("created", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("targets", models.PositiveIntegerField(default=0, help_text="Hosts or objects in scope")),
                ("created_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                                 related_name="+", to=settings.AUTH_USER_MODEL)),
                ("tenant", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                             related_name="+", to="tenancy.tenant")),
            ],
            options={"ordering": ("-created", "-id")},
        ),
        migrations.CreateModel(
            name="PlanItem",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("index", models.PositiveIntegerField()),
                ("target", models.CharField(help_text="Host or object the action is about", max_length=200)),
                ("operation", models.CharField(help_text="create, update, delete or noop", max_length=10)),
                ("resource", models.CharField(help_text="What changes (task, file, field)", max_length=300)),
                ("diff", models.TextField(blank=True, help_text="Human-readable diff")),
                ("data", models.JSONField(blank=True, default=dict)),
                ("outcome", models.CharField(choices=[("planned", "Planned"), ("ok", "Applied"), ("failed", "Failed"),
                                                      ("unreachable", "Unreachable"), ("skipped", "Skipped")],
                                             default="planned", max_length=20)),
                ("message", models.TextField(blank=True)),
                ("ci", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                         related_name="+", to="core.configurationitem")),
                ("plan", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="items",
                                           to="reconcile.plan")),
            ],
            options={"ordering": ("plan", "index")},
        ),
        migrations.AddConstraint(
            model_name="planitem",
            constraint=models.UniqueConstraint(fields=("plan", "index"), name="reconcile_planitem_unique_index"),
        ),
        migrations.AddField(
            model_name="reconcilerun",
            name="options",
            field=models.JSONField(blank=True, default=dict, help_text="Values of the reconciler's declared options"),
        ),
        migrations.AddField(
            model_name="reconcilerun",
            name="plan",
            field=models.ForeignKey(blank=True, help_text="The plan this run made, or the stored plan it applied",
                                    null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="runs",
                                    to="reconcile.plan"),
        ),
        migrations.AddField(
            model_name="reconcilerun",
            name="applies_plan",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(actions_to_plans, plans_to_actions),
        migrations.DeleteModel(name="ReconcileAction"),
    ]
