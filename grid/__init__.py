"""Browsers for the workers: Chrome options, browser providers and the local Grid launcher.

- ``grid.chrome``: the ``ChromeOptions`` every session is opened with.
- ``grid.provider``: ``BrowserProvider`` (open / close a WebDriver) with a Selenium
  Grid implementation and a local chromedriver one.
- ``grid.launcher``: TOML config and java command lines for ``testfleet grid
  hub|node|standalone``, readiness and capacity from the Grid's ``/status``.
- ``grid.jvm``: the JVM flags (measured) and class-data-sharing archive they run with.
"""
