"""Suite authoring: the suite model, the step vocabulary (``steps/``), the loader and
what it uses (composition, data rows, recordings, limits, YAML text, environment)
and the bounded planning of a submission.
"""
