from cmdb.core.domains import DemoStep, DomainConfig


class SampleConfig(DomainConfig):
    name = "tests.core.sample_domain"
    label = "sample_domain"
    api_urls = ("sample", ".api_urls")
    web_urls = [("sample/", ".urls")]
    metrics_module = ".metrics"
    receivers_module = ".receivers"
    demo_step = DemoStep(".demo.step", stage="extend", order=50)
