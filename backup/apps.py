from cmdb.core.domains import DomainConfig


class BackupConfig(DomainConfig):
    """Backup and long-term archive driven by the CMDB, executed with restic, proven by restore tests.

    Repositories and policies are CIs; snapshots, runs and restore tests are the observed outcome,
    synced from the repositories themselves so the CMDB never believes a backup it cannot see.
    The restic plumbing is :mod:`backup.restic`; the operations are plain functions in
    :mod:`backup.services`; inheritance and the coverage report are :mod:`backup.coverage`.
    """

    name = "backup"
    label = "backup"
    verbose_name = "Backup"
    api_urls = ("backup", ".api.urls")
    web_urls = [("backup/", ".urls")]
    ui_module = ".ui"
    metrics_module = ".metrics"
    reconcilers_module = ".reconcilers"
    jobs_module = ".jobs"
    receivers_module = ".receivers"  # answers hooks (cmdb.core.hooks), the self-backup schedule, a checkpoint sink
