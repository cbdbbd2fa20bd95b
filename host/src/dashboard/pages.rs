//! The dashboard's HTML pages. maud escapes every value it inserts, so a
//! canary name, a webhook's answer or a verdict's reason is always text,
//! never markup.

use maud::{DOCTYPE, Markup, html};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use warbler_guest_sdk::{Outcome, ThresholdRange};

use super::views::{CanaryDetail, CanarySummary, verdict_line};
use crate::kube::rfc3339;
use crate::ports::JournalEntry;

/// One path segment, percent-encoded.
pub fn segment(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

/// The path of a canary's page.
pub fn canary_path(namespace: &str, name: &str) -> String {
    format!("/canaries/{}/{}", segment(namespace), segment(name))
}

fn layout(title: &str, page: &str, key: Option<&str>, main: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Warbler" }
                link rel="icon" type="image/svg+xml" href="/static/favicon.svg";
                link rel="stylesheet" href="/static/dashboard.css";
                script src="/static/dashboard.js" defer {}
            }
            body data-page=(page) data-key=[key] {
                header {
                    a.home href="/" { "Warbler" }
                    span.live id="live" { "connecting…" }
                }
                main id="main" { (main) }
            }
        }
    }
    .into_string()
}

/// The list of canaries.
pub fn list(rows: &[CanarySummary]) -> String {
    layout("Canaries", "list", None, list_main(rows))
}

fn list_main(rows: &[CanarySummary]) -> Markup {
    html! {
        h1 { "Canaries" }
        div.scroll {
            table id="canaries" {
                thead {
                    tr {
                        th { "Namespace" } th { "Name" } th { "Phase" } th { "Weight" }
                        th { "Failed checks" } th { "Last transition" } th { "Policy" }
                        th { "Last verdict" }
                    }
                }
                tbody {
                    @for row in rows { (list_row(row)) }
                }
            }
        }
        @if rows.is_empty() {
            p.empty id="empty" { "No canaries yet." }
        }
    }
}

fn list_row(row: &CanarySummary) -> Markup {
    let key = format!("{}/{}", row.namespace, row.name);
    html! {
        tr data-key=(key) {
            td data-field="namespace" { (row.namespace) }
            td data-field="name" { a href=(canary_path(&row.namespace, &row.name)) { (row.name) } }
            td data-field="phase" class=(phase_class(&format!("{:?}", row.phase))) { (format!("{:?}", row.phase)) }
            td data-field="weight" { (row.weight) "%" }
            td data-field="failedChecks" { (row.failed_checks) "/" (row.threshold) }
            td data-field="lastTransitionTime" { (row.last_transition_time) }
            td data-field="policy" { (row.policy) }
            td data-field="lastVerdict" { (row.last_verdict.as_deref().unwrap_or("—")) }
        }
    }
}

fn phase_class(phase: &str) -> &'static str {
    match phase {
        "Succeeded" => "phase ok",
        "Failed" => "phase bad",
        "Progressing" | "Promoting" | "Finalising" | "WaitingPromotion" => "phase busy",
        _ => "phase",
    }
}

/// Which run of a canary a page shows.
pub struct RunView<'a> {
    /// When the run started; `None` when the canary has no steps yet.
    pub started_ms: Option<i64>,
    /// Its steps, oldest first.
    pub steps: &'a [JournalEntry],
}

/// A canary's page: the run's timeline, a chart per metric, each step,
/// the events, the policy and the past runs.
pub fn canary(detail: &CanaryDetail, run: &RunView<'_>) -> String {
    let summary = &detail.summary;
    let key = format!("{}/{}", summary.namespace, summary.name);
    layout(
        &summary.name,
        "canary",
        Some(&key),
        canary_main(detail, run),
    )
}

/// The part of a canary's page that live updates replace.
pub fn canary_main(detail: &CanaryDetail, run: &RunView<'_>) -> Markup {
    let summary = &detail.summary;
    let base = canary_path(&summary.namespace, &summary.name);
    let query = |extra: &str| match run.started_ms {
        Some(started) => format!("?run={started}&v={}{extra}", summary.version),
        None => format!("?v={}{extra}", summary.version),
    };
    let metrics = metric_names(run.steps);
    let phase = format!("{:?}", summary.phase);
    html! {
        h1 { (summary.name) small { " in " (summary.namespace) } }
        dl.facts {
            dt { "Phase" } dd class=(phase_class(&phase)) id="phase" { (phase) }
            dt { "Weight" } dd id="weight" { (summary.weight) "%" }
            dt { "Failed checks" } dd { (summary.failed_checks) "/" (summary.threshold) }
            dt { "Last transition" } dd { (summary.last_transition_time) }
            dt { "Message" } dd { (summary.message) }
        }
        section.policy {
            h2 { "Policy" }
            dl.facts {
                dt { "Reference" } dd { code { (summary.policy) } }
                @if let Some(name) = &detail.policy_facts.name { dt { "Policy" } dd { (name) } }
                @if let Some(digest) = &detail.policy_facts.digest { dt { "Digest" } dd { code.digest { (digest) } } }
            }
            @if let Some(description) = &detail.policy_facts.description { p { (description) } }
        }
        @if let Some(started) = run.started_ms {
            section {
                h2 { "Run started " (rfc3339(started)) }
                figure {
                    img src=(format!("{base}/timeline.svg{}", query(""))) alt="The canary's weight over the run, a band per phase and a marker per verdict" width="720" height="260";
                    figcaption { "The canary's weight over the run. Bands: the phase at each step (blue progressing, green waiting for promotion, grey waiting). Markers: each step's verdict." }
                }
            }
            section {
                h2 { "Metrics" }
                div.charts {
                    @for (name, range) in &metrics {
                        figure.metric data-metric=(name) {
                            figcaption { strong { (name) } " " span.range { (range_text(range)) } }
                            img src=(format!("{base}/metrics/{}.svg{}", segment(name), query(""))) alt=(format!("{name}: canary and primary over the run")) width="720" height="260";
                        }
                    }
                }
            }
            section {
                h2 { "Steps" }
                div.scroll { (steps_table(run.steps)) }
            }
        } @else {
            p.empty { "No analysis step yet." }
        }
        section {
            h2 { "Events" }
            @if detail.events.is_empty() { p.empty { "No events since this dashboard started." } }
            ul.events {
                @for event in detail.events.iter().rev() {
                    li class=(event.kind) { time { (rfc3339(event.at_ms)) } " " (event.message) }
                }
            }
        }
        section {
            h2 { "Runs" }
            ul.runs {
                @for past in &detail.runs {
                    li {
                        a href=(format!("{base}?run={}", past.started_ms)) { (past.started) }
                        @if Some(past.started_ms) == run.started_ms { " (shown)" }
                        " · " (past.steps) " steps · " span.outcome { (past.outcome) }
                    }
                }
            }
        }
    }
}

/// The metrics of a run, in the order of its last step, with their
/// threshold ranges.
pub fn metric_names(steps: &[JournalEntry]) -> Vec<(String, ThresholdRange)> {
    let mut names: Vec<(String, ThresholdRange)> = Vec::new();
    for entry in steps.iter().rev() {
        for metric in &entry.input.metrics {
            if !names.iter().any(|(name, _)| *name == metric.name) {
                names.push((metric.name.clone(), metric.threshold_range));
            }
        }
    }
    names
}

/// The time of day (UTC) of `ms`: the run's date is in its heading.
fn clock_time(ms: i64) -> String {
    let time = rfc3339(ms);
    time.get(11..19).unwrap_or(&time).to_owned()
}

fn range_text(range: &ThresholdRange) -> String {
    match (range.min, range.max) {
        (Some(min), Some(max)) => format!("threshold {min} to {max}"),
        (Some(min), None) => format!("threshold min {min}"),
        (None, Some(max)) => format!("threshold max {max}"),
        (None, None) => "no threshold".to_owned(),
    }
}

fn outcome_class(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "ok",
        Outcome::Fail => "bad",
        Outcome::NoData | Outcome::Inconclusive => "unknown",
    }
}

fn steps_table(steps: &[JournalEntry]) -> Markup {
    html! {
        table.steps {
            thead {
                tr {
                    th { "Step" } th { "At" } th { "Phase" } th { "Weight" } th { "Verdict" }
                    th { "Score" } th { "Judgements" } th { "Webhooks" } th { "Shadow policies" }
                }
            }
            tbody {
                @for entry in steps {
                    tr.step {
                        td { (entry.step) }
                        td { time datetime=(rfc3339(entry.at_ms)) { (clock_time(entry.at_ms)) } }
                        td { (format!("{:?}", entry.input.state.phase)) }
                        td { (entry.input.state.canary_weight) "%" }
                        td.verdict { (verdict_line(entry)) }
                        td { @if let Ok(Some(score)) = entry.outcome.as_ref().map(|v| v.score) { (format!("{score:.1}")) } }
                        td {
                            @if let Ok(verdict) = &entry.outcome {
                                ul { @for j in &verdict.judgements { li class=(outcome_class(j.outcome)) { (j.detail) } } }
                            }
                        }
                        td {
                            ul {
                                @for hook in &entry.input.webhooks {
                                    li class=(if hook.passed { "ok" } else { "bad" }) {
                                        (hook.name) ": " (if hook.passed { "passed" } else { "failed" })
                                        @if !hook.message.is_empty() { " — " (hook.message) }
                                    }
                                }
                            }
                        }
                        td {
                            ul {
                                @for shadow in &entry.shadows {
                                    li { (shadow.policy) ": " (match &shadow.outcome {
                                        crate::ports::StepOutcome::Verdict(v) => v.decision.to_string(),
                                        crate::ports::StepOutcome::Error(e) => format!("failed: {e}"),
                                    }) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A page for a canary that is not on the board.
pub fn not_found(what: &str) -> String {
    layout(
        "Not found",
        "missing",
        None,
        html! { h1 { "Not found" } p { (what) } p { a href="/" { "All canaries" } } },
    )
}
