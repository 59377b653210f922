"""The dashboard spec: defaults from the registry and alert files, team overrides, located errors."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from hms_otel.alerts.compiler import load_dir
from hms_otel.alerts.spec import iter_alert_files
from hms_otel.cli import cli
from hms_otel.dashboards import spec
from hms_otel.dashboards.build import DashboardProblems, apply, load
from hms_otel.dashboards.defaults import OTHER, OVERVIEW, default_dashboard, page_id
from hms_otel.dashboards.model import PanelKind
from hms_otel.registry import REGISTRY, Kind

ALERT_RULES = Path(__file__).resolve().parents[2] / "alert_rules"
EXPECTED_KIND = {
    Kind.HISTOGRAM: PanelKind.LINES,
    Kind.COUNTER: PanelKind.LINES,
    Kind.UPDOWN_COUNTER: PanelKind.BARS,
    Kind.OBSERVABLE_GAUGE: PanelKind.BARS,
    Kind.GAUGE: PanelKind.STAT,
}


def test_every_registry_metric_gets_a_panel_of_the_right_kind_on_its_layer_page() -> None:
    dashboard = default_dashboard()
    assert len(list(REGISTRY)) > 15
    for metric in REGISTRY:
        page = dashboard.page(page_id(metric.layer) if metric.layer else OTHER)
        assert page is not None, metric.name
        panel = next(p for p in page.panels if p.id == metric.name)
        assert panel.kind is EXPECTED_KIND[metric.kind], metric.name
        assert panel.metrics == (metric.name,)
        name = metric.prometheus_name
        if metric.kind is Kind.HISTOGRAM:
            assert [q.legend for q in panel.queries] == ["average", "p99"]
            assert f"rate({name}_sum[$__rate_interval])" in panel.queries[0].expr
            assert f"histogram_quantile(0.99, sum by (le) (rate({name}_bucket" in panel.queries[1].expr
        elif metric.kind is Kind.COUNTER:
            assert panel.queries[0].expr == f"sum(rate({name}[$__rate_interval])) * 60"
    assert set(dashboard.layers) == {m.layer for m in REGISTRY if m.layer}


def test_alert_thresholds_are_drawn_on_the_latency_panels() -> None:
    alert_files, problems = load_dir(ALERT_RULES)
    assert not problems
    dashboard = default_dashboard(alert_files)
    payment = next(p for p in dashboard.page("quick-start").panels if p.id == "payment_latency_ms")
    assert [(t.value, t.alert, t.severity) for t in payment.thresholds] == [(2000, "payment_latency_high",
                                                                              "critical")]
    # A counter's alert is on increase over a window, not on the per-minute rate the panel draws.
    flagged = next(p for p in dashboard.page("ach").panels if p.id == "ach_flagged_total")
    assert flagged.thresholds == ()


def test_overview_has_the_tutorial_panels() -> None:
    overview = default_dashboard().page(OVERVIEW)
    assert [(p.title, p.kind) for p in overview.panels] == [
        ("ACH latency", PanelKind.LINES),
        ("Citizens waiting in queue", PanelKind.BARS),
        ("License printer health", PanelKind.STAT),
    ]
    waiting = overview.panels[1]
    assert [q.expr for q in waiting.queries] == ["sum(job_queue_depth)", "sum(activities_pending)"]
    assert REGISTRY["license_printer_health"].kind is Kind.GAUGE


def _load(text: str, name: str = "team.dashboard.yaml") -> tuple[spec.DashboardFile | None, list[str]]:
    parsed, problems = spec.load_bytes(text.encode(), name)
    return parsed, [str(problem) for problem in problems]


def test_an_override_changes_one_panel_and_nothing_else() -> None:
    parsed, problems = _load("page: ACH\npanels:\n  - id: ach_latency_ms\n    title: ACH clearing time\n"
                             "    kind: bars\n")
    assert not problems and parsed is not None
    before = default_dashboard()
    after, problems = apply(before, [parsed])
    assert not problems
    changed = [(b, a) for b, a in zip(before.panels, after.panels, strict=True) if b != a]
    assert len(changed) == 1
    old, new = changed[0]
    assert (new.id, new.title, new.kind, new.queries) == ("ach_latency_ms", "ACH clearing time", PanelKind.BARS,
                                                          old.queries)
    assert str(new.source) == "team.dashboard.yaml:3:5"


def test_files_add_remove_and_create_pages(tmp_path: Path) -> None:
    (tmp_path / "payments.yml").write_text((ALERT_RULES / "payment_latency_high.yml").read_text())
    (tmp_path / "ach.dashboard.yaml").write_text(
        "page: ACH\npanels:\n  - id: ach_batch_size\n    remove: true\n  - metric: payment_latency_ms\n"
        "  - id: refunds_per_hour\n    title: Refunds per hour\n    query: sum(increase(refund_pdf_total[1h]))\n"
        "    unit: '{pdf}/h'\n")
    (tmp_path / "desk.dashboard.yml").write_text(
        "page: Front desk\npanels:\n  - id: waiting\n    kind: bars\n    query:\n"
        "      - {expr: sum(job_queue_depth), legend: jobs}\n")
    dashboard = load(tmp_path)
    ach = dashboard.page("ach")
    assert [p.id for p in ach.panels] == ["ach_latency_ms", "ach_flagged_total", "payment_latency_ms",
                                          "refunds_per_hour"]
    assert ach.panels[2].thresholds[0].value == 2000  # the added metric panel carries its alert threshold
    assert ach.panels[3].queries[0].expr == "sum(increase(refund_pdf_total[1h]))"
    desk = dashboard.page("front-desk")
    assert desk is not None and desk.panels[0].kind is PanelKind.BARS
    # Dashboard files are not alert files.
    assert [p.name for p in iter_alert_files(tmp_path)[0]] == ["payments.yml"]


MALFORMED = [
    ("", "team.dashboard.yaml:1:1: file is empty"),
    ("page: ACH\npanels: [\n", "team.dashboard.yaml:3:1: invalid YAML"),
    ("- page: ACH\n", "team.dashboard.yaml:1:1: expected a dashboard file"),
    ("page: ACH\n", "team.dashboard.yaml:1:1: missing field 'panels'"),
    ("page: ACH\npanel: []\n", "team.dashboard.yaml:2:1: unknown field 'panel' in a dashboard file; did you mean "
                               "'panels'?"),
    ("page: ACH\npanels: []\n", "team.dashboard.yaml:2:9: panels must be a non-empty list"),
    ("page: ACH\npanels:\n  - id: x\n    titel: y\n", "team.dashboard.yaml:4:5: unknown field 'titel' in a panel; "
                                                       "did you mean 'title'?"),
    ("page: ACH\npanels:\n  - id: x\n    kind: pie\n", "team.dashboard.yaml:4:11: unknown panel kind 'pie'"),
    ("page: ACH\npanels:\n  - metric: ach_latncy_ms\n", "team.dashboard.yaml:3:13: unknown metric 'ach_latncy_ms'; "
                                                        "did you mean 'ach_latency_ms'?"),
    ("page: ACH\npanels:\n  - title: x\n", "team.dashboard.yaml:3:5: a panel needs an id"),
    ("page: ACH\npanels:\n  - id: x\n    query: 'rate(x[5m]'\n", "team.dashboard.yaml:4:12: query 'rate(x[5m]' has "
                                                                "unbalanced brackets"),
    ("page: ACH\npanels:\n  - id: x\n    query: '{{ 1 }}'\n", "team.dashboard.yaml:4:12: query must not contain "
                                                             "template text"),
    ("page: ACH\npanels:\n  - id: x\n    remove: yes please\n", "team.dashboard.yaml:4:13: remove must be true or "
                                                                 "false"),
    ("page: ACH\npanels:\n  - id: x\n    remove: yes\n", "team.dashboard.yaml:4:13: remove: write true, not 'yes'"),
    ("page: &a ACH\npanels: [{id: *a}]\n", "team.dashboard.yaml:1:7:"),
    ("page: ACH\npanels:\n  - id: x\n  - id: x\n", "team.dashboard.yaml:4:5: panel 'x' is already listed at line 3"),
    ("page: ACH\npanels:\n  - id: x\n    id: y\n", "team.dashboard.yaml:4:5: duplicate key 'id' (first set on line 3)"),
    ("page: !!python/object:os.system ACH\npanels: [{id: x}]\n", "team.dashboard.yaml:1:7: YAML tag"),
    ("page: [ACH]\npanels: [{id: x}]\n", "team.dashboard.yaml:1:7: page must be text, not a list"),
]


@pytest.mark.parametrize(("text", "expected"), MALFORMED)
def test_malformed_files_give_located_errors(text: str, expected: str) -> None:
    parsed, problems = _load(text)
    assert parsed is None
    assert any(problem.startswith(expected) for problem in problems), problems


def test_bytes_that_are_not_utf8_are_located() -> None:
    parsed, problems = spec.load_bytes(b"page: ACH\npanels: \xff\n", "x.dashboard.yaml")
    assert parsed is None and [str(p) for p in problems] == [
        "x.dashboard.yaml:2:9: not UTF-8 text (byte 0xff); dashboard files are YAML text in UTF-8"]


def test_unknown_panels_and_double_overrides_are_located(tmp_path: Path) -> None:
    (tmp_path / "a.dashboard.yaml").write_text("page: ACH\npanels:\n  - id: nope\n    title: x\n")
    (tmp_path / "b.dashboard.yaml").write_text("page: ACH\npanels:\n  - id: ach_latency_ms\n    title: x\n")
    (tmp_path / "c.dashboard.yaml").write_text("page: ach\npanels:\n  - id: ach_latency_ms\n    title: y\n")
    with pytest.raises(DashboardProblems) as raised:
        load(tmp_path)
    messages = [str(p) for p in raised.value.problems]
    assert messages[0].startswith(f"{tmp_path}/a.dashboard.yaml:3:5: page 'ACH' has no panel 'nope' (its panels: "
                                  "ach_batch_size, ach_latency_ms, ach_flagged_total); a new panel needs a query")
    assert messages[1].startswith(f"{tmp_path}/c.dashboard.yaml:3:5: panel 'ach_latency_ms' of page 'ACH' is also "
                                  f"changed at {tmp_path}/b.dashboard.yaml:3:5")


def test_check_command_prints_located_problems_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "bad.dashboard.yaml").write_text("page: ACH\npanels:\n  - id: x\n    kind: pie\n")
    result = CliRunner().invoke(cli, ["dashboards", "check", "--alerts", str(tmp_path)])
    assert result.exit_code == 1
    assert f"{tmp_path}/bad.dashboard.yaml:4:11: unknown panel kind 'pie'" in result.output
    assert "Traceback" not in result.output
    good = CliRunner().invoke(cli, ["dashboards", "check", "--alerts", str(ALERT_RULES)])
    assert good.exit_code == 0 and "panels: ok" in good.output


def _page_file(folder: Path, name: str, title: str, panel: str) -> None:
    (folder / name).write_text(f'page: "{title}"\npanels:\n  - id: {panel}\n    query: up\n')


def test_pages_whose_titles_have_no_ascii_letters_are_distinct_and_keep_their_ids(tmp_path: Path) -> None:
    """日本 and 中文 both became page `layer`: one page titled 日本 with both panels, 中文 gone."""
    _page_file(tmp_path, "one.dashboard.yaml", "日本", "p1")
    _page_file(tmp_path, "two.dashboard.yaml", "中文", "p2")
    _page_file(tmp_path, "three.dashboard.yaml", "Café", "p3")
    _page_file(tmp_path, "four.dashboard.yaml", "Cafè", "p4")
    pages = {page.title: page for page in load(tmp_path).pages}
    assert [p.id for p in pages["日本"].panels] == ["p1"] and [p.id for p in pages["中文"].panels] == ["p2"]
    ids = [pages[title].id for title in ("日本", "中文", "Café", "Cafè")]
    assert len(set(ids)) == 4 and all(re.fullmatch(r"[a-z0-9-]{1,36}", page) for page in ids), ids
    assert ids == [page_id(title) for title in ("日本", "中文", "Café", "Cafè")]  # the same at every run
    assert page_id("日本") == "page-" + hashlib.sha256("日本".encode()).hexdigest()[:8]
    assert page_id("quick start") == "quick-start" and page_id("Citizen UI") == "citizen-ui"  # unchanged


def test_a_long_title_gets_an_id_grafana_takes_as_a_uid() -> None:
    long_a, long_b = "Payments and refunds of the licence office " + "a", "Payments and refunds of the licence office b"
    assert page_id(long_a) != page_id(long_b)
    assert all(len(f"hms-{page_id(title)}") <= 40 for title in (long_a, long_b))


def test_a_new_page_with_the_id_of_another_is_a_located_problem(tmp_path: Path) -> None:
    _page_file(tmp_path, "a.dashboard.yaml", "C", "p1")
    _page_file(tmp_path, "b.dashboard.yaml", "C++", "p2")
    _page_file(tmp_path, "c.dashboard.yaml", "Citizen-UI!", "p3")
    with pytest.raises(DashboardProblems) as raised:
        load(tmp_path)
    assert [str(p) for p in raised.value.problems] == [
        f"{tmp_path}/b.dashboard.yaml:1:7: page 'C++' gets the id 'c' of page 'C' (made at "
        f"{tmp_path}/a.dashboard.yaml:1:7); to change that page, write page: C; for a page of its own, use a "
        "title that differs in letters or digits",
        f"{tmp_path}/c.dashboard.yaml:1:7: page 'Citizen-UI!' gets the id 'citizen-ui' of page 'Citizen UI' "
        "(a default page); to change that page, write page: Citizen UI; for a page of its own, use a title that "
        "differs in letters or digits"]


def test_a_page_is_found_by_its_title_in_any_case_and_spacing_or_by_its_id(tmp_path: Path) -> None:
    _page_file(tmp_path, "a.dashboard.yaml", "citizen  ui", "p1")
    _page_file(tmp_path, "b.dashboard.yaml", "quick-start", "p2")
    _page_file(tmp_path, "c.dashboard.yaml", "日本", "p3")
    _page_file(tmp_path, "d.dashboard.yaml", page_id("日本"), "p4")
    _page_file(tmp_path, "e.dashboard.yaml", "Other", "p5")
    dashboard = load(tmp_path)
    assert [p.id for p in dashboard.page("citizen-ui").panels][-1] == "p1"
    assert [p.id for p in dashboard.page("quick-start").panels][-1] == "p2"
    assert [p.id for p in dashboard.page(page_id("日本")).panels] == ["p3", "p4"]
    assert [p.id for p in dashboard.page("other").panels][-1] == "p5"


def test_check_has_prometheus_parse_every_panel_query_at_its_file_and_line(tmp_path: Path) -> None:
    # Only brackets were counted: `sum(foo) by` passed the check and failed in the running page's panel.
    (tmp_path / "desk.dashboard.yaml").write_text(
        "page: Front desk\npanels:\n  - id: grouped\n    query: sum(foo) by\n"
        "  - id: fine\n    query: sum(rate(foo_total[$__rate_interval]))\n"
        "  - id: dangling\n    query:\n      - expr: 'foo{a=\"b\"} +'\n        legend: x\n")
    result = CliRunner().invoke(cli, ["dashboards", "check", "--alerts", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert (f"{tmp_path}/desk.dashboard.yaml:3:5: panel 'grouped' query 'sum(foo) by': Prometheus cannot run it: "
            "could not parse expression") in result.output
    assert f"{tmp_path}/desk.dashboard.yaml:7:5: panel 'dangling'" in result.output
    assert "'fine'" not in result.output and "Traceback" not in result.output
    exported = CliRunner().invoke(cli, ["dashboards", "export", "--alerts", str(tmp_path), "--format", "json"])
    assert exported.exit_code == 1 and "panel 'grouped'" in exported.output  # no Grafana file of a broken query
    skipped = CliRunner().invoke(cli, ["dashboards", "check", "--no-tools", "--alerts", str(tmp_path)])
    assert skipped.exit_code == 0, skipped.output


def test_every_default_panel_query_parses() -> None:
    from hms_otel.dashboards.promql_check import query_problems

    assert query_problems(load(ALERT_RULES)) == []
