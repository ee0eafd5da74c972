//! What every chart draws on: the [`Surface`] trait (a raster, an SVG or a browser canvas
//! implements it) and the rectangles charts lay themselves out in.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Center,
    Right,
}

/// The few drawing operations the charts need.
pub trait Surface {
    fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Rgba);
    fn line(&mut self, from: (f32, f32), to: (f32, f32), width: f32, color: Rgba, dashed: bool);
    fn circle(&mut self, center: (f32, f32), radius: f32, width: f32, color: Rgba, dashed: bool);
    fn dot(&mut self, center: (f32, f32), radius: f32, color: Rgba);
    /// `y` is the text's vertical centre.
    fn text(&mut self, x: f32, y: f32, text: &str, size: f32, color: Rgba, align: Align);

    fn polyline(&mut self, points: &[(f32, f32)], width: f32, color: Rgba) {
        for pair in points.windows(2) {
            self.line(pair[0], pair[1], width, color, false);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

impl Rect {
    pub fn new(x: f32, y: f32, w: f32, h: f32) -> Self {
        Rect { x, y, w, h }
    }
    pub fn inset(self, left: f32, top: f32, right: f32, bottom: f32) -> Self {
        Rect::new(
            self.x + left,
            self.y + top,
            (self.w - left - right).max(1.0),
            (self.h - top - bottom).max(1.0),
        )
    }
    pub fn contains(&self, x: f32, y: f32) -> bool {
        x >= self.x && x <= self.x + self.w && y >= self.y && y <= self.y + self.h
    }
}
