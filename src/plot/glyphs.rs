//! Text in the CLI's figures: DejaVu Sans, shipped in the crate, rasterised anti-aliased by
//! `ab_glyph`. `size` is the font's size in pixels, as a canvas's `font` takes it, so a chart
//! reads alike in the page and in a PNG.

use std::sync::OnceLock;

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};

use super::{Align, Raster, Rgba};

static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

fn font() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(DEJAVU_SANS).expect("the shipped font parses"))
}

/// DejaVu Sans's capital height, as a fraction of its size: text is centred on it.
const CAP_HEIGHT: f32 = 0.73;

/// The width `text` takes at `size`, kerning included.
pub fn text_width(text: &str, size: f32) -> f32 {
    let font = font().as_scaled(PxScale::from(size));
    let mut width = 0.0;
    let mut previous = None;
    for c in text.chars() {
        let id = font.glyph_id(c);
        if let Some(p) = previous {
            width += font.kern(p, id);
        }
        width += font.h_advance(id);
        previous = Some(id);
    }
    width
}

/// Draws `text` with its capitals centred on `y`, aligned on `x`.
pub fn draw_text(
    raster: &mut Raster,
    x: f32,
    y: f32,
    text: &str,
    size: f32,
    color: Rgba,
    align: Align,
) {
    let scale = PxScale::from(size);
    let font = font().as_scaled(scale);
    let width = text_width(text, size);
    let mut caret = match align {
        Align::Left => x,
        Align::Center => x - width / 2.0,
        Align::Right => x - width,
    };
    let baseline = y + CAP_HEIGHT * size / 2.0;
    let mut previous = None;
    for c in text.chars() {
        let id = font.glyph_id(c);
        if let Some(p) = previous {
            caret += font.kern(p, id);
        }
        let glyph = id.with_scale_and_position(scale, point(caret, baseline));
        caret += font.h_advance(id);
        previous = Some(id);
        let Some(outline) = font.outline_glyph(glyph) else {
            continue;
        };
        let bounds = outline.px_bounds();
        let (left, top) = (bounds.min.x as i64, bounds.min.y as i64);
        outline.draw(|gx, gy, coverage| {
            raster.blend(left + gx as i64, top + gy as i64, color, coverage);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_anti_aliased_centred_and_as_wide_as_measured() {
        let mut r = Raster::new(200, 40).unwrap();
        draw_text(
            &mut r,
            100.0,
            20.0,
            "Hue 360°",
            16.0,
            [255, 255, 255, 255],
            Align::Center,
        );
        let width = text_width("Hue 360°", 16.0);
        assert!((50.0..90.0).contains(&width), "{width}");
        let inked: Vec<(u32, u32, u8)> = (0..40)
            .flat_map(|y| (0..200).map(move |x| (x, y)))
            .map(|(x, y)| (x, y, r.pixel(x, y)[3]))
            .filter(|p| p.2 > 0)
            .collect();
        let xs = inked.iter().map(|p| p.0);
        let (min_x, max_x) = (xs.clone().min().unwrap(), xs.max().unwrap());
        assert!(
            (min_x as f32 - (100.0 - width / 2.0)).abs() <= 2.0,
            "{min_x}"
        );
        assert!(
            (max_x as f32 - (100.0 + width / 2.0)).abs() <= 3.0,
            "{max_x}"
        );
        let ys = inked.iter().map(|p| p.1);
        let (min_y, max_y) = (ys.clone().min().unwrap(), ys.max().unwrap());
        // Capitals from about 14 to 26: centred on 20, no descender here.
        assert!(
            (12..=15).contains(&min_y) && (24..=27).contains(&max_y),
            "{min_y}..{max_y}"
        );
        // Edges partly covered: anti-aliased, not a bitmap.
        assert!(inked.iter().any(|p| p.2 > 20 && p.2 < 235));
    }
}
