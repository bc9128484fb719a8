from cmdb.core.domains import DemoStep, DomainConfig


class VdiConfig(DomainConfig):
    """Virtual desktop pools managed from the CMDB: pools and desktops as CIs, size schedules from rules and
    course timetables, capacity per host cluster, licence coupling, the libvirt driver and the Guacamole export."""

    name = "vdi"
    label = "vdi"
    verbose_name = "VDI"
    api_urls = ("vdi", ".api.urls")
    web_urls = [("vdi/", ".urls")]
    ui_module = ".ui"
    reconcilers_module = ".reconcilers"
    jobs_module = ".jobs"
    metrics_module = ".metrics"
    receivers_module = ".receivers"
    demo_step = DemoStep(".demo.demo_step", stage="extend", order=200)
