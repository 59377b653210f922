"""Panel queries checked by Prometheus' own parser (``promtool check rules``) before they reach a page.

The spec reader only counts brackets: ``sum(foo) by`` passed ``hms-ops dashboards check`` and showed
up as an error in the panel of a running page. Each query becomes a recording rule of its own group,
so promtool's answer names the group, and the group the panel (and its file and line).
"""

from __future__ import annotations

import re

import yaml

from hms_otel.alerts import tools
from hms_otel.dashboards.model import RATE_INTERVAL, Dashboard, Panel, Query
from hms_otel.errors import Location, Problem

#: What the page puts for ``$__rate_interval`` with its smallest step (any valid duration parses the same).
_SAMPLE_INTERVAL = "75s"
_GROUP = re.compile(r'group "q(\d+)", rule \d+, "[^"]*": (.*)')


def query_problems(dashboard: Dashboard) -> list[Problem]:
    """A problem for every panel query Prometheus cannot parse, at the panel's file and line.

    Raises :class:`hms_otel.alerts.tools.ToolMissing` when promtool is not installed.
    """
    checked: list[tuple[Panel, Query]] = [(panel, query) for panel in dashboard.panels for query in panel.queries]
    if not checked:
        return []
    groups = [{"name": f"q{index}", "rules": [{"record": "hms_dashboard_query",
                                               "expr": query.expr.replace(RATE_INTERVAL, _SAMPLE_INTERVAL)}]}
              for index, (_panel, query) in enumerate(checked)]
    run = tools.check_rules(yaml.safe_dump({"groups": groups}, allow_unicode=True, sort_keys=False))
    if run.ok:
        return []
    problems = []
    for line in run.output.splitlines():
        match = _GROUP.search(line)
        if match is None:
            continue
        panel, query = checked[int(match.group(1))]
        where = panel.source or Location(f"default panel {panel.id!r}")
        problems.append(Problem(where, f"panel {panel.id!r} query {query.expr!r}: Prometheus cannot run it: "
                                       f"{match.group(2)}"))
    if not problems:  # an answer of a form not foreseen: said whole, never dropped
        problems.append(Problem(Location("dashboards"), f"promtool check rules refused the panel queries: "
                                                        f"{run.output}"))
    return problems


__all__ = ["query_problems"]
