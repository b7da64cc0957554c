"""A small web app for the example suites to test for real.

Served by ``testfleet demo-site`` (``demosite.app.main``) and started by
``testfleet up``. Plain HTML with a little inline CSS and JavaScript, no
external assets, so it works offline. Pages: ``/`` (links), ``/login``
(alice / wonderland), ``/dashboard`` (table, filter, delayed list item, hover
menu, long page), ``/form``, ``/shop`` + ``/checkout``, ``/storage`` (cookies,
localStorage, sessionStorage), ``/isolation`` (IndexedDB, Cache Storage, service
workers, permissions, HTTP cache) and ``/slow`` (content after 1.5 s).
"""
