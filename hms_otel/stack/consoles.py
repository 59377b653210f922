"""A Prometheus console page generated from the metric registry: each HMS layer green or red, with its
key metrics. Prometheus serves it at ``/consoles/hms-layers.html`` (``hms-ops up`` installs it).

A layer is red while any alert with ``layer="<LAYER>"`` fires; the alert compiler puts that label on
every alert it generates. The page is self-contained (no console library needed).
"""

from __future__ import annotations

import html
import urllib.parse
from pathlib import Path

from hms_otel.registry import REGISTRY, Kind, MetricDefinition

CONSOLE_NAME = "hms-layers.html"

_STYLE = """
body { font-family: sans-serif; margin: 1.5em; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #ccc; padding: .3em .8em; text-align: left; }
.layer { font-size: 1.2em; font-weight: bold; padding: .4em .8em; color: white; }
.green { background: #2e7d32; } .red { background: #c62828; }
.badges { display: flex; flex-wrap: wrap; gap: .5em; margin-bottom: 1.5em; }
.badges a { text-decoration: none; border-radius: .3em; }
"""


def _key_expression(definition: MetricDefinition) -> tuple[str, str]:
    """(PromQL, what it shows) for one metric's headline number."""
    name = definition.prometheus_name
    if definition.kind is Kind.HISTOGRAM:
        return (f"sum(rate({name}_sum[5m])) / sum(rate({name}_count[5m]))", f"average {definition.unit}, 5 min")
    if definition.kind is Kind.COUNTER:
        return f"sum(rate({name}[5m])) * 60", "per minute, 5 min"
    return f"sum({name})", "current"


def _graph_link(expr: str) -> str:
    return "/classic/graph?" + urllib.parse.urlencode({"g0.expr": expr, "g0.tab": "0", "g0.range_input": "1h"})


def _firing(layer: str) -> str:
    return f'count(ALERTS{{alertstate="firing",layer="{layer}"}})'


def _badge(layer: str) -> str:
    """One coloured box per layer, linking to its section: the at-a-glance row."""
    anchor, name = html.escape(_anchor(layer)), html.escape(layer)
    return (
        f"{{{{ if query `{_firing(layer)}` }}}}"
        f'<a class="layer red" href="#{anchor}">{name}</a>'
        f'{{{{ else }}}}<a class="layer green" href="#{anchor}">{name}</a>{{{{ end }}}}'
    )


def _anchor(layer: str) -> str:
    return "layer-" + "".join(ch if ch.isalnum() else "-" for ch in layer.lower())


def _layer_section(layer: str) -> str:
    firing = _firing(layer)
    rows = []
    for definition in sorted(REGISTRY.by_layer(layer), key=lambda d: d.name):
        expr, shows = _key_expression(definition)
        rows.append(
            "<tr>"
            f'<td><a href="{html.escape(_graph_link(expr))}">{html.escape(definition.name)}</a></td>'
            f"<td>{html.escape(definition.description)}</td>"
            f"<td>{{{{ with query `{expr}` }}}}{{{{ . | first | value | humanize }}}}"
            f"{{{{ else }}}}no data{{{{ end }}}}</td>"
            f"<td>{html.escape(shows)}</td>"
            "</tr>"
        )
    return (
        f'<a id="{html.escape(_anchor(layer))}"></a>'
        f"{{{{ if query `{firing}` }}}}"
        f'<div class="layer red">{html.escape(layer)}: '
        f"{{{{ with query `{firing}` }}}}{{{{ . | first | value }}}}{{{{ end }}}} alert(s) firing</div>"
        f'{{{{ else }}}}<div class="layer green">{html.escape(layer)}: OK</div>{{{{ end }}}}\n'
        "<table><tr><th>metric</th><th>what</th><th>value</th><th>over</th></tr>\n" + "\n".join(rows) + "\n</table>"
    )


def render_layers_console() -> str:
    """The console template text (Go template syntax, evaluated by Prometheus on each request)."""
    # Metrics defined at run time may have no layer; they have no place on a per-layer page.
    named = {definition.layer for definition in REGISTRY if definition.layer}
    layers = sorted(named, key=lambda layer: (len(layer) > 3, layer))  # the five 3-letter layers first
    badges = '<div class="badges">' + "".join(_badge(layer) for layer in layers) + "</div>"
    sections = "\n".join(_layer_section(layer) for layer in layers)
    return (
        "<!DOCTYPE html>\n<html><head><title>HMS layers</title>"
        f"<style>{_STYLE}</style>"
        '<meta http-equiv="refresh" content="15"></head><body>\n'
        "<h1>HMS layers</h1>\n"
        '<p>Red while an alert of the layer fires. <a href="/alerts">Alerts</a> · '
        '<a href="/classic/graph">Graph</a></p>\n'
        f"{badges}\n{sections}\n</body></html>\n"
    )


def write_consoles(directory: Path) -> Path:
    """Write the console page into ``directory`` (and an empty libraries dir next to it); return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory.parent / "console_libraries").mkdir(exist_ok=True)
    target = directory / CONSOLE_NAME
    target.write_text(render_layers_console())
    return target
