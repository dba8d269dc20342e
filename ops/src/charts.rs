//! The usage report's charts, as SVG (for files and the server's dashboard, no script) and
//! PNG: credits per day stacked by provider, each member's spend against their cap, and
//! cloud spend against what local work saved. Text is set in DejaVu Sans, read from the
//! system's fonts (Debian's `fonts-dejavu-core`).

use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// No font to set the labels in.
    #[error("no font for chart labels: install fonts-dejavu-core (DejaVuSans.ttf)")]
    NoFont,
    /// Drawing failed.
    #[error("drawing the chart: {0}")]
    Draw(String),
}

const WIDTH: u32 = 960;
const HEIGHT: u32 = 420;
const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

/// Registers DejaVu Sans as the charts' sans-serif, once.
fn font() -> Result<(), ChartError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        let Some(bytes) = FONT_PATHS.iter().find_map(|p| std::fs::read(p).ok()) else { return false };
        // Registered fonts live as long as the process.
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
    });
    if ok { Ok(()) } else { Err(ChartError::NoFont) }
}

/// Series over days: each a name and a value per day.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DaySeries {
    /// The days (`YYYY-MM-DD`), in order.
    pub days: Vec<String>,
    /// Each series' name and its value on each day.
    pub series: Vec<(String, Vec<i64>)>,
}

/// A chart to draw.
#[derive(Clone, Debug)]
pub enum Chart<'a> {
    /// Stacked bars per day.
    Stacked {
        /// Its title.
        title: &'a str,
        /// What the bars count.
        unit: &'a str,
        /// The data.
        data: &'a DaySeries,
    },
    /// Spend against caps per member.
    Caps {
        /// Its title.
        title: &'a str,
        /// Each member: name, spent, cap (0 when none).
        data: &'a [(String, i64, i64)],
    },
}

/// The chart as an SVG document.
pub fn svg(chart: &Chart<'_>) -> Result<String, ChartError> {
    font()?;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT)).into_drawing_area();
        draw(root, chart)?;
    }
    Ok(out)
}

/// The chart as PNG bytes.
pub fn png(chart: &Chart<'_>) -> Result<Vec<u8>, ChartError> {
    font()?;
    let mut rgb = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
        draw(root, chart)?;
    }
    encode_png(&rgb).map_err(|e| ChartError::Draw(e.to_string()))
}

/// Plotters' RGB buffer as PNG.
fn encode_png(rgb: &[u8]) -> Result<Vec<u8>, ::png::EncodingError> {
    let mut bytes = Vec::new();
    let mut encoder = ::png::Encoder::new(&mut bytes, WIDTH, HEIGHT);
    encoder.set_color(::png::ColorType::Rgb);
    encoder.set_depth(::png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(bytes)
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, chart: &Chart<'_>) -> Result<(), ChartError> {
    let err = |e: &dyn std::fmt::Display| ChartError::Draw(e.to_string());
    root.fill(&WHITE).map_err(|e| err(&e))?;
    match chart {
        Chart::Stacked { title, unit, data } => stacked(&root, title, unit, data).map_err(|e| err(&e))?,
        Chart::Caps { title, data } => caps(&root, title, data).map_err(|e| err(&e))?,
    }
    root.present().map_err(|e| err(&e))
}

fn colour(i: usize) -> RGBColor {
    const PALETTE: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
    ];
    PALETTE[i % PALETTE.len()]
}

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn stacked<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    unit: &str,
    data: &DaySeries,
) -> DrawResult<DB> {
    let days = data.days.len().max(1);
    let tops: Vec<i64> =
        (0..days).map(|d| data.series.iter().map(|(_, v)| v.get(d).copied().unwrap_or(0)).sum()).collect();
    let top = tops.iter().copied().max().unwrap_or(0).max(1) as f64 * 1.1;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..days as f64, 0f64..top)?;
    let labels = data.days.clone();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(days.min(16))
        .x_label_formatter(&|x| {
            labels.get(x.round() as usize).map(|d| d.get(5..).unwrap_or(d).to_string()).unwrap_or_default()
        })
        .y_desc(unit)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .label_style(("sans-serif", 13))
        .draw()?;
    let mut base = vec![0i64; days];
    for (i, (name, values)) in data.series.iter().enumerate() {
        let fill = colour(i).filled();
        let bars: Vec<Rectangle<(f64, f64)>> = (0..days)
            .map(|d| {
                let v = values.get(d).copied().unwrap_or(0);
                let (lo, hi) = (base[d], base[d] + v);
                base[d] = hi;
                Rectangle::new([(d as f64 + 0.1, lo as f64), (d as f64 + 0.9, hi as f64)], fill)
            })
            .collect();
        chart
            .draw_series(bars)?
            .label(name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour(i).filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
}

fn caps<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    members: &[(String, i64, i64)],
) -> DrawResult<DB> {
    let n = members.len().max(1);
    let top = members.iter().map(|(_, s, c)| (*s).max(*c)).max().unwrap_or(0).max(1) as f64 * 1.1;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..n as f64, 0f64..top)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc("credits")
        .y_label_formatter(&|v| format!("{v:.0}"))
        .label_style(("sans-serif", 13))
        .draw()?;
    let spent = members.iter().enumerate().map(|(i, (_, s, c))| {
        let over = *c > 0 && *s > *c;
        let fill = if over { colour(3) } else { colour(0) };
        Rectangle::new([(i as f64 + 0.2, 0.0), (i as f64 + 0.8, *s as f64)], fill.filled())
    });
    chart
        .draw_series(spent)?
        .label("spent")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour(0).filled()));
    let caps = members.iter().enumerate().filter(|(_, m)| m.2 > 0).map(|(i, (_, _, c))| {
        PathElement::new(vec![(i as f64 + 0.1, *c as f64), (i as f64 + 0.9, *c as f64)], BLACK.stroke_width(3))
    });
    // Each member's name and spend above their bar (axis ticks would fall between bars).
    let style = TextStyle::from(("sans-serif", 14).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
    let names = members.iter().enumerate().map(|(i, (name, spent, _))| {
        Text::new(format!("{name}: {spent}"), (i as f64 + 0.5, *spent as f64), style.clone())
    });
    chart.draw_series(names)?;
    chart
        .draw_series(caps)?
        .label("cap")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 10, y)], BLACK.stroke_width(3)));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
}
