//! Small server-rendered SVG charts for the status pages. No script and no `style` attributes (the
//! CSP forbids inline style): colours and strokes are SVG presentation attributes. Every chart has a
//! `<title>` and a text summary for screen readers.

use std::fmt::Write;

const W: f64 = 760.0;
const H: f64 = 170.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 22.0;

/// Colour-blind-safe palette (Okabe–Ito).
pub const BLUE: &str = "#0072b2";
pub const ORANGE: &str = "#d55e00";
pub const GREEN: &str = "#009e73";
pub const PURPLE: &str = "#cc79a7";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Percent,
    /// Values in seconds, shown as ms or s.
    Seconds,
    Bytes,
}

pub fn format_value(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Count if v.abs() >= 10_000.0 => format!("{:.0}k", v / 1000.0),
        Unit::Count if v.fract() == 0.0 => format!("{v:.0}"),
        Unit::Count => format!("{v:.2}"),
        Unit::Percent => format!("{:.2} %", v * 100.0),
        Unit::Seconds if v < 1.0 => format!("{:.0} ms", v * 1000.0),
        Unit::Seconds => format!("{v:.1} s"),
        Unit::Bytes => format_bytes(v),
    }
}

pub fn format_bytes(v: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = v.max(0.0);
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 { format!("{v:.0} B") } else { format!("{v:.1} {}", UNITS[i]) }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

pub struct Line<'a> {
    pub name: &'a str,
    pub color: &'a str,
    /// One value per slot, oldest first; None is a gap (no data for that slot).
    pub values: Vec<Option<f64>>,
}

fn frame(out: &mut String, id: &str, title: &str, summary: &str) {
    let _ = write!(
        out,
        "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" width=\"100%\" role=\"img\" aria-labelledby=\"{id}-t {id}-d\" \
         xmlns=\"http://www.w3.org/2000/svg\"><title id=\"{id}-t\">{}</title><desc id=\"{id}-d\">{}</desc>\
         <rect x=\"0\" y=\"0\" width=\"{W}\" height=\"{H}\" fill=\"#ffffff\"/>",
        escape(title),
        escape(summary)
    );
}

fn axes(out: &mut String, max: f64, unit: Unit, x_left: &str, x_right: &str) {
    let plot_h = H - TOP - BOTTOM;
    for (frac, label) in [(0.0, 0.0), (0.5, max / 2.0), (1.0, max)] {
        let y = TOP + plot_h * (1.0 - frac);
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#d9dde3\" stroke-width=\"1\"/>\
             <text x=\"{}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\" fill=\"#4a5568\">{}</text>",
            W - RIGHT,
            LEFT - 4.0,
            y + 4.0,
            escape(&format_value(label, unit))
        );
    }
    let _ = write!(
        out,
        "<text x=\"{LEFT}\" y=\"{}\" font-size=\"12\" fill=\"#4a5568\">{}</text>\
         <text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"end\" fill=\"#4a5568\">{}</text>",
        H - 6.0,
        escape(x_left),
        W - RIGHT,
        H - 6.0,
        escape(x_right)
    );
}

/// A nice upper bound for the y axis (1, 2 or 5 × 10^n) at or above `max`.
fn ceiling(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|v| *v >= max).unwrap_or(10.0 * magnitude)
}

/// A line chart of one or more series over the same slots.
pub fn line_chart(id: &str, title: &str, unit: Unit, x_labels: (&str, &str), lines: &[Line]) -> String {
    let max = lines.iter().flat_map(|l| l.values.iter().flatten()).fold(0.0_f64, |a, b| a.max(*b));
    let top = ceiling(max);
    let slots = lines.iter().map(|l| l.values.len()).max().unwrap_or(0);
    let summary = lines
        .iter()
        .map(|l| {
            let last = l.values.iter().rev().flatten().next();
            let peak = l.values.iter().flatten().fold(None, |a: Option<f64>, b| Some(a.map_or(*b, |a| a.max(*b))));
            match (last, peak) {
                (Some(last), Some(peak)) => {
                    format!("{}: latest {}, peak {}", l.name, format_value(*last, unit), format_value(peak, unit))
                }
                _ => format!("{}: no data", l.name),
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    let mut out = String::with_capacity(8 * 1024);
    frame(&mut out, id, title, &summary);
    axes(&mut out, top, unit, x_labels.0, x_labels.1);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let step = if slots > 1 { plot_w / (slots - 1) as f64 } else { 0.0 };
    for line in lines {
        // One polyline per run of consecutive values; gaps stay gaps.
        let mut run: Vec<String> = Vec::new();
        let flush = |run: &mut Vec<String>, out: &mut String| {
            if let [point] = run.as_slice() {
                // A lone value (e.g. the first minute after start) shows as a dot.
                let (x, y) = point.split_once(',').unwrap_or(("0", "0"));
                let _ = write!(out, "<circle cx=\"{x}\" cy=\"{y}\" r=\"3\" fill=\"{}\"/>", line.color);
                run.clear();
            } else if !run.is_empty() {
                let _ = write!(
                    out,
                    "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" stroke-linecap=\"round\" points=\"{}\"/>",
                    line.color,
                    run.join(" ")
                );
                run.clear();
            }
        };
        for (i, v) in line.values.iter().enumerate() {
            match v {
                Some(v) => {
                    let x = LEFT + step * i as f64;
                    let y = TOP + plot_h * (1.0 - (v / top).clamp(0.0, 1.0));
                    run.push(format!("{x:.1},{y:.1}"));
                }
                None => flush(&mut run, &mut out),
            }
        }
        flush(&mut run, &mut out);
    }
    legend(&mut out, lines.iter().map(|l| (l.name, l.color)));
    out.push_str("</svg>");
    out
}

fn legend<'a>(out: &mut String, items: impl Iterator<Item = (&'a str, &'a str)>) {
    let mut x = LEFT + 6.0;
    for (name, color) in items {
        let _ = write!(
            out,
            "<rect x=\"{x:.1}\" y=\"{}\" width=\"10\" height=\"3\" fill=\"{color}\"/>\
             <text x=\"{:.1}\" y=\"{}\" font-size=\"12\" fill=\"#14213d\">{}</text>",
            TOP + 2.0,
            x + 14.0,
            TOP + 7.0,
            escape(name)
        );
        x += 24.0 + 7.0 * name.chars().count() as f64;
    }
}

/// A bar chart; `bars` are (label, value), oldest first. Only the first and last labels are drawn.
pub fn bar_chart(id: &str, title: &str, unit: Unit, bars: &[(String, f64)]) -> String {
    let max = bars.iter().map(|(_, v)| *v).fold(0.0_f64, f64::max);
    let top = ceiling(max);
    let total: f64 = bars.iter().map(|(_, v)| v).sum();
    let summary =
        format!("{} bars, total {}, highest {}", bars.len(), format_value(total, unit), format_value(max, unit));
    let mut out = String::with_capacity(4 * 1024);
    frame(&mut out, id, title, &summary);
    let first = bars.first().map(|(l, _)| l.as_str()).unwrap_or("");
    let last = bars.last().map(|(l, _)| l.as_str()).unwrap_or("");
    axes(&mut out, top, unit, first, last);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let slot = plot_w / bars.len().max(1) as f64;
    for (i, (label, v)) in bars.iter().enumerate() {
        let h = plot_h * (v / top).clamp(0.0, 1.0);
        let _ = write!(
            out,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{BLUE}\"><title>{}: {}</title></rect>",
            LEFT + slot * i as f64 + 1.0,
            TOP + plot_h - h,
            (slot - 2.0).max(1.0),
            escape(label),
            escape(&format_value(*v, unit))
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_chart_splits_at_gaps_and_escapes_text() {
        let svg = line_chart(
            "c",
            "Requests <per minute>",
            Unit::Count,
            ("24 h ago", "now"),
            &[Line { name: "all", color: BLUE, values: vec![Some(1.0), Some(3.0), None, Some(2.0), Some(2.5)] }],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        let lone = line_chart(
            "d",
            "x",
            Unit::Count,
            ("a", "b"),
            &[Line { name: "n", color: BLUE, values: vec![None, Some(1.0)] }],
        );
        assert_eq!((lone.matches("<circle").count(), lone.matches("<polyline").count()), (1, 0));
        assert!(svg.contains("Requests &lt;per minute&gt;"));
        assert!(!svg.contains("style=") && !svg.contains("<script"));
    }

    #[test]
    fn bars_and_units() {
        let svg = bar_chart("b", "Votes", Unit::Count, &[("09:00".into(), 4.0), ("10:00".into(), 0.0)]);
        assert_eq!(svg.matches("<rect x=").count(), 3, "background + 2 bars");
        assert_eq!(format_value(0.0123, Unit::Seconds), "12 ms");
        assert_eq!(format_value(0.015, Unit::Percent), "1.50 %");
        assert_eq!(format_bytes(3.0 * 1024.0 * 1024.0), "3.0 MiB");
        assert_eq!(ceiling(7.0), 10.0);
        assert_eq!(ceiling(0.0), 1.0);
        assert_eq!(ceiling(120.0), 200.0);
    }
}
