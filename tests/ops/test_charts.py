"""Charts a business owner reads on a phone: measured where their words fall, compared with
reference pictures someone looked at, and carried to the card with their alt text."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path

import pytest
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.testing.compare import compare_images
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from handlers.charts import chart_window, draw_outcome
from handlers.digest import digest_cards
from handlers.week_chart import draw_week
from orchestrator.models import Measurement
from orchestrator.notify.notices import Notice, NoticeKind
from tests.conftest import Harness
from tests.ops import chart_samples
from tests.ops.chart_samples import (
    REFERENCE,
    SAMPLES,
    START,
    Sample,
    draw_all,
    edge_cases,
    week_rows,
)

PHONE_CSS_PX = 360
"""A phone's thread width: the picture is scaled to this."""


def _drawn(sample: Sample) -> tuple[Figure, str]:
    ws = chart_samples.workspace()
    return draw_outcome(sample.outcome, ws, sample.measurements, sample.steps, now=sample.now)


def _texts(fig: Figure) -> list[Text]:
    """Every word drawn: tick labels outside the axes' view exist but are not drawn."""
    fig.canvas.draw()
    hidden: set[int] = set()
    for axes in fig.axes:
        for axis in (axes.xaxis, axes.yaxis):
            low, high = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks():
                if not low <= tick.get_loc() <= high:
                    hidden.update({id(tick.label1), id(tick.label2)})
    found = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return [t for t in found if isinstance(t, Text) and id(t) not in hidden]


def _box(text: Text) -> Bbox:
    return text.get_window_extent()


def _words(fig: Figure) -> str:
    return " | ".join(t.get_text() for t in _texts(fig))


@pytest.mark.parametrize("name", [*sorted(SAMPLES), *edge_cases()])
def test_every_word_is_inside_the_picture_and_large_enough_on_a_phone(name: str) -> None:
    fig, _alt = _drawn(SAMPLES[name]() if name in SAMPLES else edge_cases()[name])
    scale = PHONE_CSS_PX / fig.bbox.width
    for text in _texts(fig):
        box = _box(text)
        assert fig.bbox.x0 - 1 <= box.x0 and box.x1 <= fig.bbox.x1 + 1, text.get_text()
        assert fig.bbox.y0 - 1 <= box.y0 and box.y1 <= fig.bbox.y1 + 1, text.get_text()
        # Cap height on the phone: at least about 9 CSS px for the smallest words.
        assert float(text.get_fontsize()) * fig.dpi / 72 * scale >= 9, text.get_text()
    assert fig.dpi >= 200  # twice the old charts' 100
    assert fig.bbox.width == 800 and fig.bbox.height <= 1024  # Teams shows up to 1024 x 1024


@pytest.mark.parametrize("name", [*sorted(SAMPLES), *edge_cases(), "digest-week"])
def test_no_words_run_into_each_other(name: str) -> None:
    if name == "digest-week":
        rows, since, now = week_rows()
        fig = draw_week(rows, since=since, now=now)[0]
    else:
        fig = _drawn(SAMPLES[name]() if name in SAMPLES else edge_cases()[name])[0]
    texts = _texts(fig)
    for a, b in itertools.combinations(texts, 2):
        assert not _box(a).overlaps(_box(b)), (a.get_text(), b.get_text())


@pytest.mark.parametrize("days", [1, 3, 7, 20, 45, 90, 200, 400])
def test_dates_never_overlap_whatever_the_span(days: int) -> None:
    sample = chart_samples.early_churn()
    outcome = sample.outcome.model_copy(update={"deadline": START + timedelta(days=days)})
    readings = [
        Measurement(value=6 - i * 0.01, at=START + timedelta(hours=i * days * 24 / 30))
        for i in range(30)
    ]
    now = readings[-1].at
    fig, _alt = draw_outcome(outcome, chart_samples.workspace(), readings, [], now=now)
    fig.canvas.draw()
    axes = fig.axes[0]
    labels = [t for t in axes.get_xticklabels() if t.get_text()]
    assert len(labels) >= 2
    boxes = [_box(t) for t in labels]
    for a, b in itertools.pairwise(sorted(boxes, key=lambda box: box.x0)):
        assert a.x1 + 4 <= b.x0, [t.get_text() for t in labels]
    for x, y in itertools.combinations(_texts(fig), 2):
        assert not _box(x).overlaps(_box(y)), (x.get_text(), y.get_text())
    # A day comes with its month (`5 Nov`), an hour with its minutes: never a bare number.
    assert all(any(c.isalpha() or c == ":" for c in t.get_text()) for t in labels), [
        t.get_text() for t in labels
    ]


def test_headline_says_value_with_unit_and_verdict() -> None:
    words = _words(_drawn(chart_samples.late_mrr())[0])
    assert "£55,025" in words and "· on track" in words
    churn = _words(_drawn(chart_samples.early_churn())[0])
    assert "5.5%" in churn and "Monthly churn rate" in churn


def test_axis_is_in_the_metrics_own_units() -> None:
    for sample, unit in ((chart_samples.late_mrr(), "£"), (chart_samples.early_churn(), "%")):
        fig, _alt = _drawn(sample)
        fig.canvas.draw()
        ticks = [t.get_text() for t in fig.axes[0].get_yticklabels() if t.get_text()]
        assert ticks and all(unit in tick for tick in ticks), ticks


def test_target_deadline_today_and_projection_are_labelled() -> None:
    words = _words(_drawn(chart_samples.late_mrr())[0])
    for label in ("target £56,000", "deadline 1 Jan", "today", "at deadline", "projection"):
        assert label in words, label
    assert "straight line to target" in words


def test_a_week_of_data_fills_the_chart_and_the_chart_says_where_the_deadline_is() -> None:
    sample = chart_samples.early_churn()
    window = chart_window(sample.outcome, sample.measurements, sample.now)
    assert not window.full and window.end - window.start <= timedelta(days=16)
    fig, _alt = _drawn(sample)
    low, high = fig.axes[0].get_xlim()
    first, last = (
        m.at.timestamp() / 86_400 for m in sample.measurements[:: len(sample.measurements) - 1]
    )
    assert (last - first) / (high - low) > 0.4  # the old chart: 8%
    assert "deadline 31 Jan 2027 →" in _words(fig)
    late = chart_samples.late_mrr()
    assert chart_window(late.outcome, late.measurements, late.now).full


def test_step_markers_say_what_ran_and_who_decided() -> None:
    fig, _alt = _drawn(chart_samples.late_mrr())
    markers = [
        line
        for line in fig.axes[0].get_lines()
        if isinstance(line, Line2D) and len(line.get_xdata()) == 1  # type: ignore[arg-type]
    ]
    people = [m for m in markers if m.get_marker() == "D"]
    automatic = [m for m in markers if m.get_marker() == "o" and m.get_markerfacecolor() == "white"]
    assert (len(people), len(automatic)) == (2, 3)
    assert people[0].get_markerfacecolor() != automatic[0].get_markeredgecolor()
    words = _words(fig)
    assert "4  offer discount · approved by a person · 29 Nov" in words
    assert "5  find at risk · ran by itself · 7 Dec" in words
    assert "+2 earlier steps" in words
    assert "step a person approved" in words and "step that ran by itself" in words


def test_alt_text_says_what_the_picture_shows() -> None:
    _fig, alt = _drawn(chart_samples.late_mrr())
    for part in ("Monthly recurring revenue", "£55,025", "on track", "£56,000", "1 Jan 2027"):
        assert part in alt
    assert "2 approved by a person, 3 ran by itself" in alt
    _fig, empty = _drawn(chart_samples.no_readings())
    assert "no reading yet" in empty


def test_week_view_of_many_outcomes_stays_within_teams_limits() -> None:
    rows, since, now = week_rows()
    fig, alt = draw_week(rows * 3, since=since, now=now)
    assert fig.bbox.width == 800 and fig.bbox.height <= 1024
    assert "+7 more outcomes in the cards below" in _words(fig)
    assert alt.count("o-churn") == 3  # the alt text names them all


def test_week_view_has_a_bar_per_outcome_with_its_verdict() -> None:
    rows, since, now = week_rows()
    fig, alt = draw_week(rows, since=since, now=now)
    words = _words(fig)
    assert "The week across 4 outcomes" in words
    assert "Monthly churn rate: 5.5% · on track" in words
    assert "- £430 this week" not in words and "-£430 this week" in words
    assert all(row.outcome.id in alt for row in rows)
    for text in _texts(fig):
        box = _box(text)
        assert fig.bbox.x0 - 1 <= box.x0 and box.x1 <= fig.bbox.x1 + 1, text.get_text()


@pytest.fixture(scope="module")
def drawn_now(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("charts")
    draw_all(folder)
    return folder


@pytest.mark.parametrize("name", [*sorted(SAMPLES), "digest-week"])
def test_pictures_match_the_reference_someone_looked_at(name: str, drawn_now: Path) -> None:
    """Tolerant of font hinting between machines (RMS 1.5 of 255); a changed label (about
    3.5) or a moved line is not.
    After a deliberate change: `python -m tests.ops.chart_samples`, look, commit."""
    result = compare_images(str(REFERENCE / f"{name}.png"), str(drawn_now / f"{name}.png"), tol=1.5)
    assert result is None, result


async def test_status_and_digest_cards_carry_chart_and_alt_text(harness: Harness) -> None:
    outcome_id = await harness.state("olivia", "Cut monthly churn by 2 points by end of Q1")
    for approval in harness.gateway.buttons("approve"):
        await harness.click("alice", "approve", approval)
    for _ in range(3):
        harness.clock.advance(timedelta(days=1))
        harness.business.advance_day()
        await harness.runtime.drain()
    replies = await harness.say("olivia", f"status {outcome_id}")
    status = replies[0].card
    assert status.image_png and outcome_id in status.image_alt
    outcome = await harness.store.outcome(outcome_id)
    notice = Notice(
        kind=NoticeKind.DIGEST,
        conversation=outcome.conversation,
        data={
            "outcomes": [outcome_id],
            "since": (harness.clock.now() - timedelta(days=7)).isoformat(),
        },
    )
    ctx = harness.runtime.ctx
    summary, card, decisions = await digest_cards(ctx.store, ctx.workspace_of, notice)
    assert decisions.title.startswith("Approval decisions this week") and not decisions.image_png
    assert summary.image_png and summary.image_alt.startswith("Chart of the week across 1")
    assert card.image_png and card.image_alt.startswith("Chart of Monthly churn rate")
