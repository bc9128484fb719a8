from cmdb.core.domains import DemoStep, DomainConfig


class K8sConfig(DomainConfig):
    """The Kubernetes container platform: clusters and namespaces as CIs, and the reconciler that
    derives each managed namespace's objects (quota, limit range, RoleBindings, network policies)
    from the CMDB and applies them by server-side apply (:mod:`k8s.sync`)."""

    name = "k8s"
    label = "k8s"
    verbose_name = "Kubernetes"
    api_urls = ("k8s", ".api.urls")
    ui_module = ".ui"
    reconcilers_module = ".reconcilers"
    metrics_module = ".metrics"
    receivers_module = ".receivers"
    jobs_module = ".jobs"
    demo_step = DemoStep(".demo.demo_step", stage="extend", order=120)
