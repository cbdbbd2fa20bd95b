//! The dashboard's charts, drawn on the server as SVG with plotters: the
//! weight over a run with its phases and verdicts, and each metric's
//! canary and primary series against the threshold range. No untrusted text
//! goes into a chart: names and reasons are in the page around it.

use std::ops::Range;

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use warbler_guest_sdk::{Decision, Phase, Series, ThresholdRange};

use crate::ports::JournalEntry;

const WIDTH: u32 = 720;
const HEIGHT: u32 = 260;
const CANARY: RGBColor = RGBColor(0xd9, 0x5f, 0x02);
const PRIMARY: RGBColor = RGBColor(0x1b, 0x6a, 0xc9);
const ALLOWED: RGBColor = RGBColor(0x2e, 0xa0, 0x43);
const ADVANCE: RGBColor = RGBColor(0x2e, 0xa0, 0x43);
const HOLD: RGBColor = RGBColor(0xe0, 0xa0, 0x00);
const ROLLBACK: RGBColor = RGBColor(0xcf, 0x22, 0x2e);
const PROMOTE: RGBColor = RGBColor(0x82, 0x50, 0xdf);
const FAILED: RGBColor = RGBColor(0x24, 0x29, 0x2f);
/// Axis and legend text; the browser picks the font.
const TEXT: (&str, u32) = ("sans-serif", 13);

/// A chart could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw the chart: {0}")]
pub struct ChartError(String);

fn failed<E: std::fmt::Debug>(err: E) -> ChartError {
    ChartError(format!("{err:?}"))
}

/// Seconds since the run started, for the x axis.
fn seconds(run_started_ms: i64, at_ms: i64) -> f64 {
    (at_ms - run_started_ms) as f64 / 1000.0
}

/// The x range of a run: from its start to one interval after its last
/// step.
fn time_range(steps: &[JournalEntry]) -> Range<f64> {
    let Some(last) = steps.last() else {
        return 0.0..1.0;
    };
    let interval = f64::from(last.input.analysis.interval_seconds.max(1));
    let first = steps
        .first()
        .map_or(0.0, |s| seconds(s.run_started_ms, s.at_ms))
        .min(0.0);
    first..seconds(last.run_started_ms, last.at_ms) + interval
}

/// The colour of a step's verdict marker, and its legend.
fn verdict_colour(entry: &JournalEntry) -> RGBColor {
    match &entry.outcome {
        Ok(verdict) => match verdict.decision {
            Decision::Advance { .. } => ADVANCE,
            Decision::Hold { failed: false, .. } => HOLD,
            Decision::Hold { failed: true, .. } | Decision::Rollback { .. } => ROLLBACK,
            Decision::Promote => PROMOTE,
        },
        Err(_) => FAILED,
    }
}

/// The band colour of a phase.
fn phase_colour(phase: Phase) -> RGBAColor {
    let colour = match phase {
        Phase::Progressing => PRIMARY,
        Phase::WaitingPromotion | Phase::Promoting | Phase::Finalising | Phase::Succeeded => {
            ADVANCE
        }
        Phase::Failed => ROLLBACK,
        Phase::Initializing | Phase::Initialized | Phase::Waiting => FAILED,
    };
    colour.mix(0.08)
}

/// The canary's weight after `entry`'s verdict.
fn weight_after(entry: &JournalEntry) -> u32 {
    let before = entry.input.state.canary_weight;
    match &entry.outcome {
        Ok(verdict) => match verdict.decision {
            Decision::Advance { weight } => weight,
            Decision::Rollback { .. } => 0,
            Decision::Promote | Decision::Hold { .. } => before,
        },
        Err(_) => before,
    }
}

/// The weight over the run of `steps`, a band per phase and a marker per
/// verdict, coloured by decision. A run that has `ended` (promoted or
/// rolled back) ends with all traffic on the primary.
pub fn timeline(steps: &[JournalEntry], ended: bool) -> Result<String, ChartError> {
    let x = time_range(steps);
    let axes = Axes {
        x: x.clone(),
        y: 0.0..105.0,
        y_desc: "canary weight %",
        y_label_width: 44,
    };
    draw(axes, |chart| {
        let time = |entry: &JournalEntry| seconds(entry.run_started_ms, entry.at_ms);
        let ends = steps.iter().skip(1).map(time).chain(std::iter::once(x.end));
        chart
            .draw_series(steps.iter().zip(ends.clone()).map(|(entry, end)| {
                Rectangle::new(
                    [(time(entry), 0.0), (end, 105.0)],
                    phase_colour(entry.input.state.phase).filled(),
                )
            }))
            .map_err(failed)?;
        let mut line = Vec::new();
        for (n, (entry, end)) in steps.iter().zip(ends).enumerate() {
            let weight = f64::from(entry.input.state.canary_weight);
            let after = if ended && n + 1 == steps.len() {
                0
            } else {
                weight_after(entry)
            };
            line.push((time(entry), weight));
            line.push((end, f64::from(after)));
        }
        chart
            .draw_series(LineSeries::new(line, CANARY.stroke_width(2)))
            .map_err(failed)?
            .label("canary weight")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], CANARY.stroke_width(2)));
        let legend = [
            ("advance", ADVANCE),
            ("hold", HOLD),
            ("failed check / rollback", ROLLBACK),
            ("promote", PROMOTE),
            ("policy failed", FAILED),
        ];
        for (label, colour) in legend {
            let marked: Vec<_> = steps
                .iter()
                .filter(|entry| verdict_colour(entry) == colour)
                .map(|entry| {
                    Circle::new(
                        (time(entry), f64::from(entry.input.state.canary_weight)),
                        5,
                        colour.filled(),
                    )
                })
                .collect();
            if marked.is_empty() {
                continue;
            }
            chart
                .draw_series(marked)
                .map_err(failed)?
                .label(label)
                .legend(move |(x, y)| Circle::new((x + 8, y), 5, colour.filled()));
        }
        Ok(())
    })
}

/// The present samples of `series` as (seconds since `run_started_ms`,
/// value), split where a sample is missing.
fn stretches(series: &Series, run_started_ms: i64) -> Vec<Vec<(f64, f64)>> {
    let mut stretches = vec![Vec::new()];
    for (n, value) in series.values.iter().enumerate() {
        let at = series.start_ms + n as i64 * i64::from(series.step_ms);
        if value.is_finite() {
            stretches
                .last_mut()
                .expect("never empty")
                .push((seconds(run_started_ms, at), *value));
        } else if !stretches.last().expect("never empty").is_empty() {
            stretches.push(Vec::new());
        }
    }
    stretches.retain(|s| !s.is_empty());
    stretches
}

/// One side of a metric over a run: its series, and its value at each step.
#[derive(Default)]
struct Side {
    stretches: Vec<Vec<(f64, f64)>>,
    values: Vec<(f64, f64)>,
}

impl Side {
    fn points(&self) -> impl Iterator<Item = f64> + '_ {
        self.stretches
            .iter()
            .flatten()
            .chain(&self.values)
            .map(|(_, y)| *y)
    }
}

/// The y range that shows every value and, when it is near them, the
/// threshold range.
fn value_range(canary: &Side, primary: &Side, threshold: &ThresholdRange) -> Range<f64> {
    let values: Vec<f64> = canary.points().chain(primary.points()).collect();
    let (mut low, mut high) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(*v), h.max(*v))
        });
    if values.is_empty() {
        (low, high) = (0.0, 1.0);
    }
    let span = (high - low).max(high.abs() * 0.05).max(1e-9);
    // A bound far from the values would flatten them into a line: it is
    // then left off the scale, and the band still shades the side it allows.
    for bound in [threshold.min, threshold.max].into_iter().flatten() {
        if bound > low - 4.0 * span && bound < high + 4.0 * span {
            low = low.min(bound);
            high = high.max(bound);
        }
    }
    let pad = (high - low).max(span) * 0.1;
    (low - pad)..(high + pad)
}

/// `metric`'s canary and primary series over the run of `steps`, each
/// step's values marked, with the threshold range shaded.
pub fn metric(steps: &[JournalEntry], metric: &str) -> Result<String, ChartError> {
    let (mut canary, mut primary) = (Side::default(), Side::default());
    let mut threshold = ThresholdRange::default();
    for entry in steps {
        let Some(m) = entry.input.metrics.iter().find(|m| m.name == metric) else {
            continue;
        };
        threshold = m.threshold_range;
        let at = seconds(entry.run_started_ms, entry.at_ms);
        for (side, series, value) in [
            (&mut canary, &m.canary_series, m.canary),
            (&mut primary, &m.primary_series, m.primary),
        ] {
            if let Some(series) = series {
                side.stretches
                    .extend(stretches(series, entry.run_started_ms));
            }
            if let Some(value) = value.filter(|v| v.is_finite()) {
                side.values.push((at, value));
            }
        }
    }
    let axes = Axes {
        x: time_range(steps),
        y: value_range(&canary, &primary, &threshold),
        y_desc: "",
        y_label_width: 56,
    };
    let (x, y) = (axes.x.clone(), axes.y.clone());
    draw(axes, |chart| {
        if threshold.min.is_some() || threshold.max.is_some() {
            let low = threshold.min.unwrap_or(y.start).max(y.start);
            let high = threshold.max.unwrap_or(y.end).min(y.end);
            if low < high {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x.start, low), (x.end, high)],
                        ALLOWED.mix(0.1).filled(),
                    )))
                    .map_err(failed)?
                    .label("threshold range")
                    .legend(|(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 16, y + 5)], ALLOWED.mix(0.3).filled())
                    });
            }
        }
        for (label, side, colour) in [("primary", &primary, PRIMARY), ("canary", &canary, CANARY)] {
            for (n, stretch) in side.stretches.iter().enumerate() {
                let drawn = chart
                    .draw_series(LineSeries::new(stretch.clone(), colour.mix(0.8)))
                    .map_err(failed)?;
                if n == 0 {
                    drawn.label(label).legend(move |(x, y)| {
                        PathElement::new([(x, y), (x + 16, y)], colour.stroke_width(2))
                    });
                }
            }
            let marked = chart
                .draw_series(
                    side.values
                        .iter()
                        .map(|point| Circle::new(*point, 4, colour.filled())),
                )
                .map_err(failed)?;
            if side.stretches.is_empty() && !side.values.is_empty() {
                marked
                    .label(label)
                    .legend(move |(x, y)| Circle::new((x + 8, y), 4, colour.filled()));
            }
        }
        Ok(())
    })
}

/// The axes of a chart over a run.
struct Axes {
    x: Range<f64>,
    y: Range<f64>,
    /// What the y axis measures; empty when the caption says it.
    y_desc: &'static str,
    /// Room for the y axis' labels, in pixels.
    y_label_width: u32,
}

/// A chart drawn on the server.
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// An SVG chart on `axes`: the grid, what `body` draws, and the legend of
/// the series it labelled.
fn draw(
    axes: Axes,
    body: impl FnOnce(&mut Chart<'_, '_>) -> Result<(), ChartError>,
) -> Result<String, ChartError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(failed)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(axes.y_label_width)
            .build_cartesian_2d(axes.x, axes.y)
            .map_err(failed)?;
        chart
            .configure_mesh()
            .x_desc("seconds since the run started")
            .y_desc(axes.y_desc)
            .x_labels(8)
            .y_labels(6)
            .light_line_style(WHITE)
            .label_style(TEXT)
            .axis_desc_style(TEXT)
            .draw()
            .map_err(failed)?;
        body(&mut chart)?;
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(FAILED.mix(0.3))
            .label_font(TEXT)
            .draw()
            .map_err(failed)?;
        root.present().map_err(failed)?;
    }
    Ok(svg)
}
