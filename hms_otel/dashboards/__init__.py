"""Dashboards generated from the metric registry and the compiled alert rules.

spec (team YAML files, checked with located errors) -> model (pages of panels)
-> generators: the page ``hms-ops up`` serves (``site``) and Grafana JSON
(``grafana``). Each step is testable on its own.
"""
