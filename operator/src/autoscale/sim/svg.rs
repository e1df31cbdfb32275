//! A small SVG line-plot writer: stacked panels sharing the time axis, with axes, labels and legends.

use std::fmt::Write;

use super::scenario::Comparison;

/// One line of a panel.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// CSS colour.
    pub color: &'static str,
    /// Dashed line.
    pub dashed: bool,
    /// (seconds, value) points.
    pub points: Vec<(f64, f64)>,
}

/// One panel: a y axis and its lines.
#[derive(Clone, Debug)]
pub struct Panel {
    /// Title above the panel.
    pub title: String,
    /// Label of the y axis.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
}

pub(super) const WIDTH: f64 = 1000.0;
const PANEL_HEIGHT: f64 = 220.0;
pub(super) const LEFT: f64 = 90.0;
pub(super) const RIGHT: f64 = 230.0;
pub(super) const TOP: f64 = 50.0;
const GAP: f64 = 60.0;
const MAX_POINTS: usize = 1500;

/// Up to `MAX_POINTS` points, each the largest value of its bucket (peaks survive).
fn thin(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let step = points.len().div_ceil(MAX_POINTS).max(1);
    points
        .chunks(step)
        .map(|c| {
            c.iter()
                .copied()
                .fold((c[0].0, f64::MIN), |(t, m), (_, v)| (t, m.max(v)))
        })
        .collect()
}

/// A "nice" tick step (1, 2 or 5 × 10ⁿ) giving about five ticks up to `max`.
pub(super) fn tick_step(max: f64) -> f64 {
    let raw = (max / 5.0).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

pub(super) fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if a >= 1e3 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// Renders stacked panels over `0..=t_max` seconds with a title.
pub fn render(title: &str, t_max: f64, panels: &[Panel]) -> String {
    let plot_w = WIDTH - LEFT - RIGHT;
    let height = TOP + panels.len() as f64 * (PANEL_HEIGHT + GAP) + 10.0;
    let mut s = open(title, height);
    let x_step = tick_step(t_max);
    for (i, panel) in panels.iter().enumerate() {
        let top = TOP + i as f64 * (PANEL_HEIGHT + GAP);
        let bottom = top + PANEL_HEIGHT;
        let y_max = panel
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .fold(0.0f64, f64::max)
            .max(1.0)
            * 1.05;
        let y_step = tick_step(y_max);
        let x = |t: f64| LEFT + t / t_max.max(1.0) * plot_w;
        let y = |v: f64| bottom - v / y_max * PANEL_HEIGHT;
        let _ = writeln!(
            s,
            r#"<text x="{LEFT}" y="{}" font-size="13" font-weight="bold">{}</text>"#,
            top - 8.0,
            esc(&panel.title)
        );
        // Grid and ticks.
        let mut v = 0.0;
        while v <= y_max {
            grid_line(&mut s, y(v), plot_w, v);
            v += y_step;
        }
        let mut t = 0.0;
        while t <= t_max + 1e-9 {
            x_tick(&mut s, x(t), bottom, t);
            t += x_step;
        }
        let _ = writeln!(
            s,
            r#"<rect x="{LEFT}" y="{top}" width="{plot_w}" height="{PANEL_HEIGHT}" fill="none" stroke="black"/>"#
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">time (s)</text>"#,
            LEFT + plot_w / 2.0,
            bottom + 32.0
        );
        let _ = writeln!(
            s,
            r#"<text transform="translate(18 {0:.1}) rotate(-90)" text-anchor="middle">{1}</text>"#,
            top + PANEL_HEIGHT / 2.0,
            esc(&panel.y_label)
        );
        // Lines and legend.
        for (k, series) in panel.series.iter().enumerate() {
            let pts: Vec<String> = thin(&series.points)
                .iter()
                .map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v)))
                .collect();
            let dash = if series.dashed {
                r#" stroke-dasharray="6 4""#
            } else {
                ""
            };
            let _ = writeln!(
                s,
                r#"<polyline fill="none" stroke="{}" stroke-width="1.6"{dash} points="{}"/>"#,
                series.color,
                pts.join(" ")
            );
            let ly = top + 14.0 + k as f64 * 18.0;
            let lx = LEFT + plot_w + 14.0;
            let _ = writeln!(
                s,
                r#"<line x1="{lx}" x2="{}" y1="{ly}" y2="{ly}" stroke="{}" stroke-width="2"{dash}/><text x="{}" y="{}">{}</text>"#,
                lx + 26.0,
                series.color,
                lx + 32.0,
                ly + 4.0,
                esc(&series.label)
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

/// The document's start: the `<svg>` element `height` high, a white page and `title` on top.
pub(super) fn open(title: &str, height: f64) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="24" font-size="16" text-anchor="middle" font-weight="bold">{}</text>"#,
        WIDTH / 2.0,
        esc(title)
    );
    s
}

/// A horizontal grid line across the plot at `y` pixels, labelled `value` on the left.
pub(super) fn grid_line(s: &mut String, y: f64, plot_w: f64, value: f64) {
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" x2="{0}" y1="{1:.1}" y2="{1:.1}" stroke="#e5e5e5"/><text x="{2}" y="{3:.1}" text-anchor="end">{4}</text>"##,
        LEFT + plot_w,
        y,
        LEFT - 6.0,
        y + 4.0,
        fmt_num(value)
    );
}

/// A tick under the plot at `x` pixels, labelled `value`.
pub(super) fn x_tick(s: &mut String, x: f64, bottom: f64, value: f64) {
    let _ = writeln!(
        s,
        r##"<line x1="{0:.1}" x2="{0:.1}" y1="{bottom}" y2="{1}" stroke="#999"/><text x="{0:.1}" y="{2}" text-anchor="middle">{3}</text>"##,
        x,
        bottom + 4.0,
        bottom + 17.0,
        fmt_num(value)
    );
}

pub(super) fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

const SPATE: &str = "#1f77b4";
const KEDA: &str = "#ff7f0e";
const KEDA_DEFAULT: &str = "#2ca02c";

/// The standard plot of a comparison: arrivals, the lag of each run, and pods/workers of each.
pub fn plot(c: &Comparison) -> String {
    let pts = |f: &dyn Fn(&super::run::Sample) -> f64, run: &super::run::Run| {
        run.samples.iter().map(|x| (x.t, f(x))).collect::<Vec<_>>()
    };
    let line = |label: &str, color, dashed, points| Series {
        label: label.to_string(),
        color,
        dashed,
        points,
    };
    let panels = [
        Panel {
            title: "Arrivals".into(),
            y_label: "records / s".into(),
            series: vec![line(
                "arrivals",
                "#555",
                false,
                pts(&|x| x.arrivals, &c.spate),
            )],
        },
        Panel {
            title: "Consumer-group lag".into(),
            y_label: "records behind".into(),
            series: vec![
                line("spate", SPATE, false, pts(&|x| x.lag as f64, &c.spate)),
                line(
                    "KEDA+HPA (tuned)",
                    KEDA,
                    false,
                    pts(&|x| x.lag as f64, &c.keda),
                ),
                line(
                    "KEDA+HPA (default)",
                    KEDA_DEFAULT,
                    false,
                    pts(&|x| x.lag as f64, &c.keda_default),
                ),
            ],
        },
        Panel {
            title: "Size".into(),
            y_label: "pods / workers".into(),
            series: vec![
                line(
                    "spate pods",
                    SPATE,
                    false,
                    pts(&|x| x.replicas as f64, &c.spate),
                ),
                line(
                    "spate workers (total)",
                    SPATE,
                    true,
                    pts(&|x| x.workers as f64, &c.spate),
                ),
                line(
                    "KEDA (tuned) pods",
                    KEDA,
                    false,
                    pts(&|x| x.replicas as f64, &c.keda),
                ),
                line(
                    "KEDA (tuned) workers",
                    KEDA,
                    true,
                    pts(&|x| x.workers as f64, &c.keda),
                ),
                line(
                    "KEDA (default) pods",
                    KEDA_DEFAULT,
                    false,
                    pts(&|x| x.replicas as f64, &c.keda_default),
                ),
            ],
        },
    ];
    render(
        &format!("{} — spate vs KEDA+HPA", c.trace.name),
        c.trace.seconds() as f64,
        &panels,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_steps_are_round_numbers() {
        assert_eq!(tick_step(1200.0), 500.0);
        assert_eq!(tick_step(9.0), 2.0);
        assert_eq!(tick_step(3_000_000.0), 1_000_000.0);
    }

    #[test]
    fn thinning_keeps_the_peaks() {
        let pts: Vec<(f64, f64)> = (0..10_000)
            .map(|i| (i as f64, if i == 7777 { 99.0 } else { 1.0 }))
            .collect();
        let thin = thin(&pts);
        assert!(thin.len() <= MAX_POINTS);
        assert!(thin.iter().any(|p| p.1 == 99.0));
    }

    #[test]
    fn a_plot_is_one_svg_document_with_its_legend() {
        let panel = Panel {
            title: "A & B".into(),
            y_label: "n".into(),
            series: vec![Series {
                label: "x".into(),
                color: "red",
                dashed: true,
                points: vec![(0.0, 1.0), (10.0, 2.0)],
            }],
        };
        let svg = render("t", 10.0, &[panel]);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("A &amp; B") && svg.contains("stroke-dasharray"));
    }
}
