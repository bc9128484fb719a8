"""The domain contract: what an app adds to the CMDB, declared once, on its ``AppConfig``.

Every app of the project (the core apps in ``cmdb/`` and the domain packages at the top level:
``discovery``, ``playbooks``, ``monitoring``, ...) subclasses :class:`DomainConfig` and states
what it contributes::

    class MonitoringConfig(DomainConfig):
        name = "monitoring"
        label = "monitoring"
        api_urls = ("monitoring", ".api.urls")             # mounted at /api/monitoring/
        web_urls = [("", ".urls_root"), ("monitoring/", ".urls")]
        ui_module = ".ui"                                   # pages, menu entries, CI-page panels
        metrics_module = ".metrics"                         # collect() for /metrics
        demo_step = DemoStep(".demo.demo_step", stage="plan")

The project reads these declarations and nothing else: ``cmdb/urls.py`` and ``cmdb/api/urls.py``
mount the routes (and the ``/api/`` root lists them), the UI imports the UI modules when it is
ready, the job registry the jobs modules, the reconcile framework the reconcilers modules, the
metrics registry (:mod:`cmdb.core.metrics`) the collectors, ``cmdb demo`` the demo steps.  No
shared module names a domain: a new domain is a folder with an ``AppConfig`` like the one above,
one line in ``INSTALLED_APPS`` and one in ``pyproject.toml``'s packages.

Module paths starting with ``.`` are relative to the app's package.  Everything is read in
``INSTALLED_APPS`` order, which is therefore the order of menu entries, URL patterns, metric
families and demo steps of equal ``order``.

Cross-domain needs never import another domain: they go through the hooks of
:mod:`cmdb.core.hooks`; a domain connects its receivers in its ``receivers_module``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar

from django.apps import AppConfig, apps
from django.utils.module_loading import import_string

#: The attributes naming a module (``import_declared`` accepts these).
MODULE_ATTRIBUTES = ("ui_module", "jobs_module", "reconcilers_module", "metrics_module", "receivers_module")
DEMO_STAGES = ("plan", "extend")


@dataclass(frozen=True)
class DemoStep:
    """A domain's part of ``cmdb demo``: ``function(seed: int)``, called once the core demo is written.

    ``stage="plan"`` runs it inside the core demo's one change-logged transaction (source ``demo``,
    one request id with every core object) just before the change log is written; ``stage="extend"``
    runs it after that transaction, and the step attributes its own writes (e.g. through the real
    ingest).  Within a stage, smaller ``order`` first; equal orders keep ``INSTALLED_APPS`` order.
    A step must be idempotent: ``cmdb demo`` may run on a database that has the demo already.
    """

    function: str
    stage: str = "extend"
    order: int = 100

    def __post_init__(self) -> None:
        if self.stage not in DEMO_STAGES:
            raise ValueError(f"DemoStep {self.function!r}: stage must be one of {', '.join(DEMO_STAGES)}")


class DomainConfig(AppConfig):
    """An app that declares its contributions (see the module docstring for the whole contract)."""

    # Django picks the one AppConfig class of an ``apps`` module as the app's config; importing this
    # base there would make two candidates (and silently fall back to a plain AppConfig).  The base is
    # therefore never a default, and every subclass is one unless it says otherwise.
    default = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "default" not in cls.__dict__:
            cls.default = True

    #: ``(prefix, module)``: the REST routes, mounted at ``/api/<prefix>/`` and listed in the API root.
    api_urls: ClassVar[tuple[str, str] | None] = None
    #: ``[(prefix, module), ...]``: web routes, mounted at ``/<prefix>`` (``""`` for patterns with full paths).
    web_urls: ClassVar[Sequence[tuple[str, str]]] = ()
    #: Registers the app's pages, menu entries and CI-page panels with :mod:`cmdb.ui.registry`.
    ui_module: ClassVar[str | None] = None
    #: Declares job functions with :func:`cmdb.jobs.registry.job`.
    jobs_module: ClassVar[str | None] = None
    #: Registers reconcilers with :func:`cmdb.reconcile.base.register`.
    reconcilers_module: ClassVar[str | None] = None
    #: Defines ``collect()`` (or ``collect(user=...)``) for ``/metrics``; see :mod:`cmdb.core.metrics`.
    metrics_module: ClassVar[str | None] = None
    #: Connects the app's signal and hook receivers: imported when the app is ready, then its
    #: ``connect()`` is called if it has one.
    receivers_module: ClassVar[str | None] = None
    #: The app's part of ``cmdb demo``.
    demo_step: ClassVar[DemoStep | None] = None
    #: A function (dotted path, relative to the app like the modules) that ``cmdb setup`` calls after
    #: migrating, with no arguments, for what a working instance needs of this app besides its tables,
    #: e.g. a built-in schedule.  It is idempotent and returns a line to print (or None).
    setup_step: ClassVar[str | None] = None
    #: Give every model of the app that has no admin class of its own a generic Django admin page
    #: (list, search, filters; :mod:`cmdb.core.admin`).
    generic_admin: ClassVar[bool] = False

    def module_path(self, path: str) -> str:
        """``path`` made absolute: ``".api.urls"`` of app ``discovery`` is ``discovery.api.urls``."""
        return f"{self.name}{path}" if path.startswith(".") else path

    def declared(self, attribute: str) -> str | None:
        """The absolute module path this app declares for ``attribute`` (one of MODULE_ATTRIBUTES)."""
        if attribute not in MODULE_ATTRIBUTES:
            raise ValueError(f"{attribute!r} is not a module declaration; use one of {', '.join(MODULE_ATTRIBUTES)}")
        value = getattr(self, attribute)
        return self.module_path(value) if value else None

    def ready(self) -> None:
        path = self.declared("receivers_module")
        if path:
            module = importlib.import_module(path)
            connect = getattr(module, "connect", None)
            if callable(connect):
                connect()


def domain_configs() -> list[DomainConfig]:
    """The installed apps that declare contributions, in ``INSTALLED_APPS`` order."""
    return [config for config in apps.get_app_configs() if isinstance(config, DomainConfig)]


def import_declared(attribute: str) -> list[ModuleType]:
    """Import the module every app declares for ``attribute`` (e.g. ``"jobs_module"``); returns them."""
    return [importlib.import_module(path) for config in domain_configs()
            if (path := config.declared(attribute)) is not None]


def api_routes() -> list[tuple[str, str]]:
    """``(prefix, module)`` of every app's REST routes."""
    return [(config.api_urls[0], config.module_path(config.api_urls[1]))
            for config in domain_configs() if config.api_urls is not None]


def web_routes() -> list[tuple[str, str]]:
    """``(prefix, module)`` of every app's web routes."""
    return [(prefix, config.module_path(module)) for config in domain_configs() for prefix, module in config.web_urls]


def metrics_collectors() -> list[Callable[..., Any]]:
    """``collect`` of every declared metrics module."""
    return [collect for module in import_declared("metrics_module")
            if callable(collect := getattr(module, "collect", None))]


def setup_steps() -> list[Callable[[], Any]]:
    """Every app's ``setup_step`` function, in ``INSTALLED_APPS`` order (``cmdb setup`` runs them)."""
    return [import_string(config.module_path(config.setup_step)) for config in domain_configs()
            if config.setup_step is not None]


def demo_steps(stage: str) -> list[Callable[[int], Any]]:
    """The demo step functions of ``stage`` (``"plan"`` or ``"extend"``), in the order to run them."""
    if stage not in DEMO_STAGES:
        raise ValueError(f"stage must be one of {', '.join(DEMO_STAGES)}")
    steps = [(config.demo_step.order, index, config) for index, config in enumerate(domain_configs())
             if config.demo_step is not None and config.demo_step.stage == stage]
    return [import_string(config.module_path(config.demo_step.function)) for _order, _index, config in sorted(
        steps, key=lambda s: (s[0], s[1]))]
