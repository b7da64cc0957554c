"""Browsers for the workers: Chrome options, browser providers and the local Grid launcher.

- ``grid.chrome``: the ``ChromeOptions`` every session is opened with.
- ``grid.provider``: the two ``testfleet.fleet.browser.BrowserProvider`` implementations,
  a Selenium Grid one and a local chromedriver one.
- ``grid.pool``: a worker process's pool of sessions (``make_pooled_provider``, what
  workers load by name through ``testfleet.fleet.browser.load_provider``).
- ``grid.reset``: what makes a pooled session fresh again between two tests.
- ``grid.gridconfig``: the TOML config of each Grid role (credentials, secret, stereotype).
- ``grid.launcher``: java command lines for ``testfleet grid
  hub|node|standalone``, readiness and capacity from the Grid's ``/status``.
- ``grid.jvm``: the JVM flags (measured) and class-data-sharing archive they run with.
- ``grid.egress``: the egress proxy beside each node, every request a browser makes
  goes through it (``testfleet.targets.policy`` decides).
- ``grid.policy``: the managed Chromium URL policy nodes run their browsers under.
"""
