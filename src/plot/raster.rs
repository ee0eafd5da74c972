//! An RGBA8 image in memory, the [`Surface`] the CLI draws PNGs on.

use super::*;

/// An RGBA8 image, the [`Surface`] the CLI draws PNGs on.
#[derive(Debug, Clone)]
pub struct Raster {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

/// The largest image a [`Raster`] holds: 2²⁶ pixels, 256 MiB.
pub const MAX_PIXELS: u64 = 1 << 26;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {width}×{height} image is too large to draw (at most {MAX_PIXELS} pixels)")]
pub struct TooLarge {
    pub width: u32,
    pub height: u32,
}

impl Raster {
    pub fn new(width: u32, height: u32) -> Result<Self, TooLarge> {
        let pixels = width as u64 * height as u64;
        if pixels > MAX_PIXELS {
            return Err(TooLarge { width, height });
        }
        Ok(Raster {
            width,
            height,
            pixels: vec![0; pixels as usize * 4],
        })
    }

    /// A 0×0 raster, to be resized before use.
    pub fn empty() -> Self {
        Raster {
            width: 0,
            height: 0,
            pixels: Vec::new(),
        }
    }

    #[inline(always)]
    fn offset(&self, x: u32, y: u32) -> usize {
        (y as usize * self.width as usize + x as usize) * 4
    }

    pub fn pixel(&self, x: u32, y: u32) -> Rgba {
        let i = self.offset(x, y);
        [
            self.pixels[i],
            self.pixels[i + 1],
            self.pixels[i + 2],
            self.pixels[i + 3],
        ]
    }

    /// Paints `color` over the pixel at `coverage` (0–1) of its alpha: the "over" operator on
    /// straight (not premultiplied) RGBA.
    #[inline(always)]
    pub(super) fn blend(&mut self, x: i64, y: i64, color: Rgba, coverage: f32) {
        if x < 0 || y < 0 || x >= self.width as i64 || y >= self.height as i64 {
            return;
        }
        let i = self.offset(x as u32, y as u32);
        // Integer arithmetic in 0–255: the page rasterises thousands of dots every frame. The
        // channels are written out rather than zipped: a module built for size does not
        // inline an iterator's steps.
        let a = (color[3] as f32 * coverage.clamp(0.0, 1.0) + 0.5) as u32;
        let pixel = &mut self.pixels[i..i + 4];
        let dst_a = pixel[3] as u32;
        if dst_a == 255 {
            // Over an opaque pixel (nearly every one the page draws points on) the divisor
            // below is 255² and the same bytes come from one division by a constant.
            pixel[0] = over_opaque(color[0], pixel[0], a);
            pixel[1] = over_opaque(color[1], pixel[1], a);
            pixel[2] = over_opaque(color[2], pixel[2], a);
            return;
        }
        let out_a = a * 255 + dst_a * (255 - a);
        if out_a == 0 {
            return;
        }
        let mix = |src: u8, dst: u8| {
            let mixed = src as u32 * a * 255 + dst as u32 * dst_a * (255 - a);
            ((mixed + out_a / 2) / out_a) as u8
        };
        pixel[0] = mix(color[0], pixel[0]);
        pixel[1] = mix(color[1], pixel[1]);
        pixel[2] = mix(color[2], pixel[2]);
        pixel[3] = ((out_a + 127) / 255) as u8;
    }
}

/// `src` with alpha `a` over the opaque `dst`, rounded as [`Raster`]'s general blend rounds.
#[inline(always)]
fn over_opaque(src: u8, dst: u8, a: u32) -> u8 {
    ((src as u32 * a + dst as u32 * (255 - a) + 127) / 255) as u8
}

impl Surface for Raster {
    fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Rgba) {
        let (x0, y0) = (x.round() as i64, y.round() as i64);
        let (x1, y1) = ((x + w).round() as i64, (y + h).round() as i64);
        let (x0, x1) = (x0.max(0), x1.min(self.width as i64));
        for py in y0.max(0)..y1.min(self.height as i64) {
            if color[3] == 255 && x0 < x1 {
                // Opaque over anything is the colour itself: what `blend` gives, without
                // its divisions per pixel (the CLI's charts are mostly opaque fills).
                let (from, to) = (
                    self.offset(x0 as u32, py as u32),
                    self.offset(x1 as u32 - 1, py as u32),
                );
                for pixel in self.pixels[from..to + 4].chunks_exact_mut(4) {
                    pixel.copy_from_slice(&color);
                }
                continue;
            }
            for px in x0..x1 {
                self.blend(px, py, color, 1.0);
            }
        }
    }

    fn line(&mut self, from: (f32, f32), to: (f32, f32), width: f32, color: Rgba, dashed: bool) {
        let (dx, dy) = (to.0 - from.0, to.1 - from.1);
        let length = (dx * dx + dy * dy).sqrt();
        let n = length.ceil().max(1.0) as usize;
        let half = ((width - 1.0) / 2.0).round().max(0.0) as i64;
        for i in 0..=n {
            let t = i as f32 / n as f32;
            if dashed && (t * length / 6.0) as usize % 2 == 1 {
                continue;
            }
            let (cx, cy) = (from.0 + dx * t, from.1 + dy * t);
            // Stamp a small square; good enough for 1–3 px chart lines.
            for oy in -half..=half {
                for ox in -half..=half {
                    self.blend(cx.round() as i64 + ox, cy.round() as i64 + oy, color, 1.0);
                }
            }
        }
    }

    fn circle(&mut self, center: (f32, f32), radius: f32, width: f32, color: Rgba, dashed: bool) {
        let n = (std::f32::consts::TAU * radius).ceil().max(8.0) as usize;
        for i in 0..n {
            if dashed && (i / 6) % 2 == 1 {
                continue;
            }
            let a = i as f32 / n as f32 * std::f32::consts::TAU;
            let p = (center.0 + radius * a.cos(), center.1 + radius * a.sin());
            self.line(p, p, width, color, false);
        }
    }

    fn dot(&mut self, center: (f32, f32), radius: f32, color: Rgba) {
        let r = if radius > 0.5 { radius } else { 0.5 };
        // Coverage is r + ½ − distance, clamped. Each row visits only the pixels whose centres
        // fall inside r + ½, and takes a square root only on the rim. Squares are written out
        // and the ranges are half-open: the page draws thousands of dots a frame, and a module
        // built for size keeps neither `powi` nor an inclusive range's bookkeeping cheap.
        let inner = r - 0.5;
        let (inside, outside) = (inner * inner, (r + 0.5) * (r + 0.5));
        let y0 = (center.1 - r - 1.0).floor() as i64;
        let y1 = (center.1 + r + 1.0).ceil() as i64;
        for py in y0.max(0)..y1.min(self.height as i64 - 1) + 1 {
            let dy = py as f32 + 0.5 - center.1;
            let dy2 = dy * dy;
            if dy2 >= outside {
                continue;
            }
            let half = (outside - dy2).sqrt();
            let x0 = (center.0 - half - 0.5).floor() as i64;
            let x1 = (center.0 + half - 0.5).ceil() as i64;
            for px in x0.max(0)..x1.min(self.width as i64 - 1) + 1 {
                let dx = px as f32 + 0.5 - center.0;
                let d2 = dx * dx + dy2;
                if d2 >= outside {
                    continue;
                }
                if d2 <= inside && color[3] == 255 {
                    // Fully covered by an opaque colour: the blend's answer is the colour.
                    let i = self.offset(px as u32, py as u32);
                    let pixel = &mut self.pixels[i..i + 4];
                    (pixel[0], pixel[1], pixel[2], pixel[3]) =
                        (color[0], color[1], color[2], color[3]);
                    continue;
                }
                let coverage = if d2 <= inside {
                    1.0
                } else {
                    r + 0.5 - d2.sqrt()
                };
                self.blend(px, py, color, coverage);
            }
        }
    }

    #[cfg(not(target_family = "wasm"))]
    fn text(&mut self, x: f32, y: f32, text: &str, size: f32, color: Rgba, align: Align) {
        glyphs::draw_text(self, x, y, text, size, color, align);
    }

    /// The page draws its charts' text with the browser's fonts, on a canvas; what a raster
    /// writes there is in an 8-pixel bitmap font (font8x8), to keep the module small.
    #[cfg(target_family = "wasm")]
    fn text(&mut self, x: f32, y: f32, text: &str, size: f32, color: Rgba, align: Align) {
        // Whole multiples of the 8 px font, rounded down so text never outgrows its box.
        let scale = (size / 8.0).floor().max(1.0) as i64;
        let advance = 8 * scale;
        let width = advance * text.chars().count() as i64;
        let left = match align {
            Align::Left => x as i64,
            Align::Center => x as i64 - width / 2,
            Align::Right => x as i64 - width,
        };
        let top = y as i64 - 4 * scale;
        for (i, ch) in text.chars().enumerate() {
            let glyph = font8x8::legacy::BASIC_LEGACY
                .get(ch as usize)
                .copied()
                .unwrap_or(font8x8::legacy::BASIC_LEGACY[b'?' as usize]);
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        for sy in 0..scale {
                            for sx in 0..scale {
                                let px = left + i as i64 * advance + col * scale + sx;
                                self.blend(px, top + row as i64 * scale + sy, color, 1.0);
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dot_covers_its_disc_and_nothing_beyond() {
        let mut r = Raster::new(20, 20).unwrap();
        r.fill_rect(0.0, 0.0, 20.0, 20.0, [0, 0, 0, 255]);
        r.dot((10.0, 10.0), 4.0, [255, 0, 0, 255]);
        assert_eq!(r.pixel(10, 10), [255, 0, 0, 255], "centre");
        assert_eq!(r.pixel(11, 12), [255, 0, 0, 255], "inside");
        assert_eq!(r.pixel(15, 10), [0, 0, 0, 255], "beyond r + 1/2");
        assert_eq!(r.pixel(3, 3), [0, 0, 0, 255], "far away");
        let rim = r.pixel(13, 10)[0];
        assert!(rim > 0 && rim < 255, "the rim is partly covered: {rim}");
        let covered = (0..20)
            .flat_map(|y| (0..20).map(move |x| (x, y)))
            .map(|(x, y)| r.pixel(x, y)[0] as f32 / 255.0)
            .sum::<f32>();
        let area = std::f32::consts::PI * 16.0;
        assert!(
            (covered - area).abs() < 0.05 * area,
            "covered {covered} px², disc {area}"
        );
    }

    /// What `dot` and `fill_rect` write directly for fully covered opaque pixels.
    #[test]
    fn an_opaque_colour_fully_covering_any_pixel_blends_to_itself() {
        let colour = [201, 7, 99, 255];
        for dst_a in 0..=255u8 {
            for dst in [0u8, 1, 128, 254, 255] {
                let mut r = Raster::new(1, 1).unwrap();
                r.pixels.copy_from_slice(&[dst, 255 - dst, dst / 2, dst_a]);
                r.blend(0, 0, colour, 1.0);
                assert_eq!(r.pixel(0, 0), colour, "over {dst} at alpha {dst_a}");
            }
        }
    }

    #[test]
    fn over_an_opaque_pixel_the_shortcut_is_the_general_blend() {
        for a in 0..=255u32 {
            for src in 0..=255u8 {
                for dst in 0..=255u8 {
                    let out_a = a * 255 + 255 * (255 - a);
                    let mixed = src as u32 * a * 255 + dst as u32 * 255 * (255 - a);
                    let general = ((mixed + out_a / 2) / out_a) as u8;
                    assert_eq!(over_opaque(src, dst, a), general, "{src} over {dst} at {a}");
                }
            }
        }
    }

    #[test]
    fn blending_is_the_over_operator_on_straight_alpha() {
        let mut r = Raster::new(2, 1).unwrap();
        r.fill_rect(0.0, 0.0, 1.0, 1.0, [0, 0, 200, 255]);
        r.blend(0, 0, [200, 0, 0, 255], 0.5);
        assert_eq!(r.pixel(0, 0), [100, 0, 100, 255], "half over opaque");
        r.blend(1, 0, [200, 100, 0, 128], 1.0);
        assert_eq!(
            r.pixel(1, 0),
            [200, 100, 0, 128],
            "over transparent keeps the colour"
        );
    }
}
