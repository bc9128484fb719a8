"""The demo university: one deterministic, realistic landscape for screenshots, benchmarks and tests.

``cmdb demo`` (``cmdb.core.management.commands.demo``) calls
:func:`cmdb.demo.generator.generate`; the static shape (organisation, places,
hardware catalogue, services) lives in :mod:`cmdb.demo.catalog` so the story
can be read and extended without touching the generator's mechanics.  Nothing
is re-exported here, so the catalogue stays importable without Django set up.
"""
