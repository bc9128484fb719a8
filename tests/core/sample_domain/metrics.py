from prometheus_client.core import GaugeMetricFamily


def collect():
    family = GaugeMetricFamily("cmdb_sample_things", "Things of the sample domain")
    family.add_metric([], 3)
    yield family
