"""The status page's latency charts: axes, time labels and how few points are drawn (pure, no processes)."""

from datetime import UTC, datetime

import pytest
from django.template.loader import render_to_string

from health import charts

# 14:00:00 UTC, so the time labels are easy to read here.
NOW = datetime(2024, 5, 1, 14, 0, tzinfo=UTC).timestamp()


def test_an_empty_hour_has_axes_and_no_points():
    c = charts.chart([], NOW)
    assert c.empty and c.latest is None and c.line == "" and c.value_label is None
    assert (c.count, c.median_ms) == (0, None)
    assert [t.label for t in c.x_ticks] == ["13:00", "13:15", "13:30", "13:45", "14:00"]
    assert [t.label for t in c.y_ticks] == ["0 ms", "0.5 ms", "1 ms"]


def test_one_point_is_a_dot_with_its_value_and_no_line():
    c = charts.chart([(NOW - 30, 12.5)], NOW)
    [dot] = c.dots
    assert c.line == ""
    assert (dot.value, dot.time, dot.x) == ("12.5 ms", "14:00", c.right)  # the newest minute ends at "now"
    assert c.value_label["text"] == "12.5 ms" and c.value_label["anchor"] == "end"  # room is on its left
    assert c.max_ms == 20 and [t.label for t in c.y_ticks] == ["0 ms", "10 ms", "20 ms"]


def test_several_points_make_a_line_through_their_dots_in_time_order():
    samples = [(NOW - 50 * 60, 100.0), (NOW - 20 * 60, 300.0), (NOW - 20 * 60 + 5, 500.0), (NOW - 10, 200.0)]
    c = charts.chart(samples, NOW)
    assert [d.value for d in c.dots] == ["100 ms", "400 ms", "200 ms"]  # one per minute: the median
    assert c.line == " ".join(f"{d.x},{d.y}" for d in c.dots)
    xs = [d.x for d in c.dots]
    assert xs == sorted(xs) and c.left < xs[0] and xs[-1] == c.right
    assert c.max_ms == 500 and c.dots[1].y < c.dots[2].y < c.dots[0].y  # higher latency is higher up
    assert (c.count, c.median_ms) == (4, 250.0)


def test_samples_outside_the_hour_are_left_out():
    c = charts.chart([(NOW - 3601, 5.0), (NOW + 1, 5.0)], NOW)
    assert c.empty and c.count == 2  # counted in the caption's total as before, drawn nowhere


@pytest.mark.parametrize(
    "value, top", [(0, 1), (0.3, 0.5), (1, 1), (1.2, 2), (2.2, 2.5), (4, 5), (7, 10), (110, 200), (4000, 5000)]
)
def test_the_latency_axis_ends_at_a_round_number(value, top):
    assert charts.nice_top(value) == pytest.approx(top)


@pytest.mark.parametrize(
    "ms, text", [(0, "0 ms"), (0.25, "0.25 ms"), (2.5, "2.5 ms"), (12.34, "12.3 ms"), (250, "250 ms")]
)
def test_latencies_read_as_milliseconds(ms, text):
    assert charts.format_ms(ms) == text


def test_the_svg_has_its_labels_and_a_dot_or_a_line():
    def svg(samples):
        return render_to_string("health/_chart.html", {"chart": charts.chart(samples, NOW), "label": "Chat"})

    empty = svg([])
    assert "No data yet" in empty and "<circle" not in empty and "13:30" in empty and ">14:00</text>" in empty
    one = svg([(NOW - 30, 12.5)])
    assert one.count("<circle") == 1 and "<polyline" not in one and ">12.5 ms</text>" in one
    several = svg([(NOW - 600, 10.0), (NOW - 30, 20.0)])
    assert several.count("<circle") == 2 and "<polyline" in several and ">20 ms</text>" in several
