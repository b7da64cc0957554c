"""The ``testfleet`` command: the top floor. It starts the components (the local fleet
launcher, ``testfleet up``), follows runs and writes reports.
"""
