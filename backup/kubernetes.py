"""A policy rendered for one Kubernetes namespace: a ``CronJob`` running restic over the namespace's volumes.

The backup reconciler (:mod:`backup.reconcilers`) renders these manifests here, in Python, and hands them
to the Kubernetes domain through the core hook ``kubernetes_objects_published`` (this domain never imports
it): the desired state is plain data the plan can show and fingerprint, and the k8s domain plans (the
server's dry run), applies and prunes them with its cluster's credentials and field manager.

One CronJob per (namespace, policy), named ``cmdb-backup-<policy id>-<policy name>`` (52 characters at
most: the controller appends 11 to name a Job), with the policy's cron as ``schedule``,
``concurrencyPolicy: Forbid`` (a backup still running when the next is due is not doubled, as a systemd
timer does not start a running service twice) and ``startingDeadlineSeconds`` of six hours (a run missed
while the controller was down still happens, like ``Persistent=true``).  Its pod runs one container, the
restic image (setting ``CMDB_BACKUP_RESTIC_IMAGE``, default :data:`DEFAULT_IMAGE`), that mounts each of the
namespace's PersistentVolumeClaims **read-only** under ``/data/<claim>`` and runs the same steps as the
hosts' script (:mod:`backup.systemd`): ``restic backup`` of ``/data/...`` with the tags ``cmdb-policy=<id>``
and ``cmdb-ci=<namespace CI id>`` and ``--host <cluster>/<namespace>`` (so the inventory sync attributes the
snapshots, and retention never mixes two clusters' namespaces of the same name), ``restic forget --prune``
with the policy's keep-* rules, and with an archive tier ``restic copy`` into the archive repository and
``forget --keep-yearly <archive_years> --prune`` there (not on an append-only archive).

**No secret is ever written.**  The repository URL is an environment value, as it is a line of the hosts'
script; the password and backend credentials come from a Kubernetes Secret **the operator creates** in the
namespace, one per repository, named :func:`secret_name` (``cmdb-restic-<repository name>``), through
``secretKeyRef``: the Secret's key for a reference ``env:NAME`` is ``NAME``, for ``file:/path`` the file's
base name.  The pod gets the password as ``CMDB_RESTIC_PASSWORD`` and restic reads it through
``RESTIC_PASSWORD_COMMAND='printenv CMDB_RESTIC_PASSWORD'`` (the archive's as ``CMDB_ARCHIVE_RESTIC_PASSWORD``,
so the copy can name both), backend variables under their own names (the archive's prefixed ``CMDB_ARCHIVE_``
and exported before the copy).  A missing Secret or key keeps the pod from starting, with the key named in
its events; the CMDB never reads or writes the Secret.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.utils.text import slugify

from .systemd import PREFIX, RenderError, RepositoryAccess, _keep

#: A restic release's official image, pinned (``latest`` would change under the plans).
DEFAULT_IMAGE = "restic/restic:0.17.3"
API_VERSION, KIND = "batch/v1", "CronJob"
#: What a sender names (the k8s domain writes ``batch/v1beta1`` on servers that serve only that).
KINDS = [(API_VERSION, KIND)]
DATA_ROOT = "/data"
NAME_LIMIT = 52
POLICY_LABEL = "cmdb/backup-policy"
CI_LABEL = "cmdb/backup-ci"
STARTING_DEADLINE = 6 * 3600
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def restic_image() -> str:
    return str(getattr(settings, "CMDB_BACKUP_RESTIC_IMAGE", "") or DEFAULT_IMAGE)


def cronjob_name(policy_id: int, policy_name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", policy_name.lower()).strip("-") or "policy"
    return f"{PREFIX}{policy_id}-{slug}"[:NAME_LIMIT].rstrip("-")


def secret_name(repository_name: str) -> str:
    """The Secret (in each namespace) holding a repository's password and backend variables."""
    return f"cmdb-restic-{slugify(repository_name)[:240].strip('-') or 'repository'}"


def secret_key(ref: str) -> str:
    """The Secret's key for a secret reference: ``env:NAME`` → ``NAME``, ``file:/run/x/pw`` → ``pw``."""
    scheme, _, target = ref.partition(":")
    key = target if scheme == "env" else PurePosixPath(target).name if scheme == "file" else ""
    if not key or not _SECRET_KEY.match(key):
        raise RenderError(f"the reference {ref!r} names no usable Secret key (letters, digits, '-', '_', '.')")
    return key


@dataclass(frozen=True)
class Repo:
    """A repository as a pod opens it: its access (URL, references) and the Secret they live in."""

    name: str
    access: RepositoryAccess


@dataclass(frozen=True)
class PolicyInNamespace:
    """One policy as it applies to one namespace (the inputs of :func:`render`)."""

    policy_id: int
    policy_name: str
    ci_id: int
    cluster: str
    namespace: str
    schedule: str
    volumes: tuple[str, ...]
    excludes: tuple[str, ...]
    retention: dict[str, int]
    repository: Repo
    archive: Repo | None = None
    archive_years: int = 0
    explanation: str = ""

    @property
    def host(self) -> str:
        return f"{self.cluster}/{self.namespace}"


def _ref_env(name: str, repo: Repo, ref: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret_name(repo.name), "key": secret_key(ref)}}}


def environment(p: PolicyInNamespace) -> list[dict[str, Any]]:
    """The container's variables: URLs as values, everything secret as a ``secretKeyRef``."""
    env = [{"name": "RESTIC_REPOSITORY", "value": p.repository.access.url},
           _ref_env("CMDB_RESTIC_PASSWORD", p.repository, p.repository.access.password_ref),
           {"name": "RESTIC_PASSWORD_COMMAND", "value": "printenv CMDB_RESTIC_PASSWORD"}]
    env += [_ref_env(var, p.repository, ref) for var, ref in sorted(p.repository.access.credentials.items())]
    if p.archive is not None:
        env += [{"name": "CMDB_ARCHIVE_REPOSITORY", "value": p.archive.access.url},
                _ref_env("CMDB_ARCHIVE_RESTIC_PASSWORD", p.archive, p.archive.access.password_ref)]
        env += [_ref_env(f"CMDB_ARCHIVE_{var}", p.archive, ref)
                for var, ref in sorted(p.archive.access.credentials.items())]
    return env


def script(p: PolicyInNamespace, data_root: str = DATA_ROOT) -> str:
    """The ``sh`` script the container runs (the steps of :func:`backup.systemd.script`)."""
    q = shlex.quote
    select = f"--host {q(p.host)} --tag {q(f'cmdb-policy={p.policy_id}')}"
    tags = f"--tag {q(f'cmdb-policy={p.policy_id}')} --tag {q(f'cmdb-ci={p.ci_id}')}"
    excludes = "".join(f" --exclude {q(e)}" for e in p.excludes)
    paths = " ".join(q(f"{data_root}/{v}") for v in p.volumes)
    lines = [
        f"# Managed by the CMDB (backup reconciler): policy {p.policy_name} (id {p.policy_id}) for namespace "
        f"{p.namespace} on {p.cluster} (CI {p.ci_id}); change the policy in the CMDB instead.",
        "set -eu",
        f"restic backup --host {q(p.host)} {tags}{excludes} -- {paths}",
        f"restic forget {select} --group-by host,paths {_keep(p.retention)} --prune",
    ]
    if p.archive is not None:
        lines += [
            "# The archive tier: this namespace's snapshots of the policy copied into the archive repository.",
            "export RESTIC_FROM_REPOSITORY=\"$RESTIC_REPOSITORY\" "
            "RESTIC_FROM_PASSWORD_COMMAND='printenv CMDB_RESTIC_PASSWORD'",
            *[f'export {var}="$CMDB_ARCHIVE_{var}"' for var in sorted(p.archive.access.credentials)],
            "export RESTIC_REPOSITORY=\"$CMDB_ARCHIVE_REPOSITORY\" "
            "RESTIC_PASSWORD_COMMAND='printenv CMDB_ARCHIVE_RESTIC_PASSWORD'",
            f"restic copy {select}",
        ]
        if p.archive.access.append_only:
            lines.append(f"# The archive is append-only (it refuses deletes): keep-yearly {p.archive_years} is "
                         "enforced where it is served without --append-only.")
        else:
            lines.append(f"restic forget {select} --group-by host,paths --keep-yearly {p.archive_years} --prune")
    return "\n".join(lines) + "\n"


def render(p: PolicyInNamespace, *, image: str | None = None) -> dict[str, Any]:
    """The CronJob manifest of ``p`` (``batch/v1``; see the module docstring)."""
    if not p.volumes:
        raise RenderError(f"namespace {p.namespace} has no PersistentVolumeClaims to back up")
    labels = {POLICY_LABEL: str(p.policy_id), CI_LABEL: str(p.ci_id)}
    annotations = {"cmdb/backup-policy-name": p.policy_name}
    if p.explanation:
        annotations["cmdb/backup-why"] = p.explanation
    volumes = [{"name": f"pvc-{i}", "persistentVolumeClaim": {"claimName": claim, "readOnly": True}}
               for i, claim in enumerate(p.volumes)]
    mounts = [{"name": f"pvc-{i}", "mountPath": f"{DATA_ROOT}/{claim}", "readOnly": True}
              for i, claim in enumerate(p.volumes)]
    container = {"name": "restic", "image": image or restic_image(), "command": ["/bin/sh", "-c", script(p)],
                 "env": environment(p), "volumeMounts": mounts}
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": cronjob_name(p.policy_id, p.policy_name), "namespace": p.namespace,
                     "labels": labels, "annotations": annotations},
        "spec": {
            "schedule": p.schedule,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": STARTING_DEADLINE,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": labels},
                "spec": {
                    "backoffLimit": 2,
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"restartPolicy": "Never", "containers": [container], "volumes": volumes},
                    },
                },
            },
        },
    }
