//! An SVG scatter writer for cost–lag frontiers: replica-seconds across, lag up (log scale),
//! one colour per controller, each controller's Pareto set joined as a step line.

use std::fmt::Write;

use super::pareto::{Point, pareto};
use super::svg::{LEFT, RIGHT, TOP, WIDTH, esc, grid_line, open, tick_step, x_tick};

/// One controller's configurations.
#[derive(Clone, Debug)]
pub struct Cloud {
    /// Legend text.
    pub label: String,
    /// CSS colour.
    pub color: &'static str,
    /// Its points.
    pub points: Vec<Point>,
}

/// One panel: a lag measure against cost.
#[derive(Clone, Debug)]
pub struct ScatterPanel {
    /// Title above the panel.
    pub title: String,
    /// Label of the y axis.
    pub y_label: String,
    /// The controllers.
    pub clouds: Vec<Cloud>,
}

const HEIGHT: f64 = 320.0;
const GAP: f64 = 70.0;

/// Renders the panels under `title`.
pub fn scatter(title: &str, panels: &[ScatterPanel]) -> String {
    let plot_w = WIDTH - LEFT - RIGHT;
    let height = TOP + panels.len() as f64 * (HEIGHT + GAP) + 10.0;
    let mut s = open(title, height);
    for (i, panel) in panels.iter().enumerate() {
        let top = TOP + i as f64 * (HEIGHT + GAP);
        let bottom = top + HEIGHT;
        let all = || panel.clouds.iter().flat_map(|c| c.points.iter());
        let x_max = all().map(|p| p.cost).fold(1.0, f64::max) * 1.05;
        let positive = || all().map(|p| p.lag).filter(|v| *v > 0.0);
        let y_lo = positive()
            .fold(f64::INFINITY, f64::min)
            .min(1.0e300)
            .log10()
            .floor();
        let y_hi = positive().fold(0.0, f64::max).max(10.0).log10().ceil();
        let y_lo = if y_lo.is_finite() {
            y_lo.min(y_hi - 1.0)
        } else {
            0.0
        };
        let x = |v: f64| LEFT + v / x_max * plot_w;
        let y = |v: f64| {
            let l = v.max(10f64.powf(y_lo)).log10();
            bottom - (l - y_lo) / (y_hi - y_lo) * HEIGHT
        };
        let _ = writeln!(
            s,
            r#"<text x="{LEFT}" y="{}" font-size="13" font-weight="bold">{}</text>"#,
            top - 8.0,
            esc(&panel.title)
        );
        let mut e = y_lo;
        while e <= y_hi {
            let v = 10f64.powf(e);
            grid_line(&mut s, y(v), plot_w, v);
            e += 1.0;
        }
        let step = tick_step(x_max);
        let mut t = 0.0;
        while t <= x_max {
            x_tick(&mut s, x(t), bottom, t);
            t += step;
        }
        let _ = writeln!(
            s,
            r#"<rect x="{LEFT}" y="{top}" width="{plot_w}" height="{HEIGHT}" fill="none" stroke="black"/><text x="{}" y="{}" text-anchor="middle">replica-seconds</text><text transform="translate(18 {:.1}) rotate(-90)" text-anchor="middle">{} (log)</text>"#,
            LEFT + plot_w / 2.0,
            bottom + 32.0,
            top + HEIGHT / 2.0,
            esc(&panel.y_label)
        );
        for (k, cloud) in panel.clouds.iter().enumerate() {
            for p in &cloud.points {
                let _ = writeln!(
                    s,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}" fill-opacity="0.45"><title>{}</title></circle>"#,
                    x(p.cost),
                    y(p.lag),
                    cloud.color,
                    esc(&p.label)
                );
            }
            let front: Vec<String> = pareto(&cloud.points)
                .iter()
                .map(|p| format!("{:.1},{:.1}", x(p.cost), y(p.lag)))
                .collect();
            let _ = writeln!(
                s,
                r#"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>"#,
                cloud.color,
                front.join(" ")
            );
            let ly = top + 14.0 + k as f64 * 18.0;
            let lx = LEFT + plot_w + 14.0;
            let _ = writeln!(
                s,
                r#"<circle cx="{}" cy="{ly}" r="4" fill="{}"/><text x="{}" y="{}">{} ({} configurations)</text>"#,
                lx + 6.0,
                cloud.color,
                lx + 16.0,
                ly + 4.0,
                esc(&cloud.label),
                cloud.points.len()
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scatter_is_one_svg_with_a_point_per_configuration_and_a_frontier_per_controller() {
        let point = |label: &str, cost, lag| Point {
            label: label.into(),
            cost,
            lag,
        };
        let panel = ScatterPanel {
            title: "peak lag".into(),
            y_label: "records".into(),
            clouds: vec![
                Cloud {
                    label: "spate".into(),
                    color: "#1f77b4",
                    points: vec![point("a", 100.0, 1e4), point("b", 200.0, 1e3)],
                },
                Cloud {
                    label: "KEDA".into(),
                    color: "#ff7f0e",
                    points: vec![point("c", 300.0, 1e5)],
                },
            ],
        };
        let svg = scatter("t", &[panel]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<title>").count(), 3);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("spate (2 configurations)"), "{svg}");
    }
}
