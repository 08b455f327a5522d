"""The words the engine says: Jinja2 templates for emails (and later letters and pages).

This package holds data only. `notifications.render` loads `email/<lang>/<kind>.*.j2` from here;
it is a package so that the templates ship inside the wheel and are found by `PackageLoader`.
"""
