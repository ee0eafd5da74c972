//! A [`Surface`] that writes SVG: the same charts as the PNGs, as vectors for a paper. Every
//! piece of text goes through [`xml_text`], so a sheet's names stay text.

use std::fmt::Write;

use super::{Align, Rgba, Surface};
use crate::escape::xml_text;

pub struct Svg {
    width: f32,
    height: f32,
    body: String,
}

/// `fill="#rrggbb"` (or `stroke=`), with its opacity when the colour is not opaque.
fn paint(kind: &str, c: Rgba) -> String {
    let mut s = format!("{kind}=\"#{:02x}{:02x}{:02x}\"", c[0], c[1], c[2]);
    if c[3] != 255 {
        let _ = write!(s, " {kind}-opacity=\"{:.3}\"", c[3] as f32 / 255.0);
    }
    s
}

/// A coordinate to a tenth of a pixel: finer than any screen or print shows, and short.
fn n(v: f32) -> String {
    let s = format!("{v:.1}");
    match s.strip_suffix(".0") {
        Some(whole) if whole != "-0" => whole.to_string(),
        Some(_) => "0".to_string(),
        None => s,
    }
}

impl Svg {
    pub fn new(width: f32, height: f32) -> Self {
        Svg {
            width,
            height,
            body: String::new(),
        }
    }

    /// The whole document.
    pub fn finish(self) -> String {
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
             viewBox=\"0 0 {w} {h}\" font-family=\"DejaVu Sans, Verdana, sans-serif\">\n{}</svg>\n",
            self.body,
            w = n(self.width),
            h = n(self.height)
        )
    }

    /// A `<circle>` with its paint attributes.
    fn circle_element(&mut self, center: (f32, f32), radius: f32, paint: &str) {
        let _ = writeln!(
            self.body,
            "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" {paint}/>",
            n(center.0),
            n(center.1),
            n(radius)
        );
    }

    fn stroke(width: f32, color: Rgba, dashed: bool) -> String {
        let dash = if dashed {
            " stroke-dasharray=\"6 6\""
        } else {
            ""
        };
        format!(
            "{} stroke-width=\"{}\" fill=\"none\"{dash}",
            paint("stroke", color),
            n(width)
        )
    }
}

impl Surface for Svg {
    fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Rgba) {
        let _ = writeln!(
            self.body,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" {}/>",
            n(x),
            n(y),
            n(w.max(0.0)),
            n(h.max(0.0)),
            paint("fill", color)
        );
    }

    fn line(&mut self, from: (f32, f32), to: (f32, f32), width: f32, color: Rgba, dashed: bool) {
        let _ = writeln!(
            self.body,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" {}/>",
            n(from.0),
            n(from.1),
            n(to.0),
            n(to.1),
            Self::stroke(width, color, dashed)
        );
    }

    fn circle(&mut self, center: (f32, f32), radius: f32, width: f32, color: Rgba, dashed: bool) {
        self.circle_element(center, radius, &Self::stroke(width, color, dashed));
    }

    fn dot(&mut self, center: (f32, f32), radius: f32, color: Rgba) {
        self.circle_element(center, radius, &paint("fill", color));
    }

    fn text(&mut self, x: f32, y: f32, text: &str, size: f32, color: Rgba, align: Align) {
        let anchor = match align {
            Align::Left => "start",
            Align::Center => "middle",
            Align::Right => "end",
        };
        let _ = writeln!(
            self.body,
            "<text x=\"{}\" y=\"{}\" font-size=\"{}\" text-anchor=\"{anchor}\" \
             dominant-baseline=\"central\" {}>{}</text>",
            n(x),
            n(y),
            n(size),
            paint("fill", color),
            xml_text(text)
        );
    }

    fn polyline(&mut self, points: &[(f32, f32)], width: f32, color: Rgba) {
        if points.len() < 2 {
            return;
        }
        let points: Vec<String> = (points.iter())
            .map(|&(x, y)| format!("{},{}", n(x), n(y)))
            .collect();
        let _ = writeln!(
            self.body,
            "<polyline points=\"{}\" {} stroke-linejoin=\"round\"/>",
            points.join(" "),
            Self::stroke(width, color, false)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_text_become_elements_and_text_stays_text() {
        let mut svg = Svg::new(100.0, 50.0);
        svg.fill_rect(0.0, 0.0, 100.0, 50.0, [0x33, 0x33, 0x33, 255]);
        svg.dot((10.0, 20.5), 3.0, [255, 0, 0, 128]);
        svg.line((0.0, 0.0), (10.0, 10.0), 1.0, [0, 0, 0, 255], true);
        svg.text(
            50.0,
            25.0,
            "a</text><script>x</script>&",
            12.0,
            [255; 4],
            Align::Center,
        );
        let doc = svg.finish();
        assert!(doc.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100\""));
        assert!(
            doc.contains("<rect x=\"0\" y=\"0\" width=\"100\" height=\"50\" fill=\"#333333\"/>")
        );
        assert!(doc.contains(
            "<circle cx=\"10\" cy=\"20.5\" r=\"3\" fill=\"#ff0000\" fill-opacity=\"0.502\"/>"
        ));
        assert!(doc.contains("stroke-dasharray=\"6 6\""));
        assert!(doc.contains(">a&lt;/text&gt;&lt;script&gt;x&lt;/script&gt;&amp;</text>"));
        assert!(!doc.contains("<script"));
    }
}
