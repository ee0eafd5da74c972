//! The page's phase diagram: one or two keyframe values of the sheet varied over a grid
//! ([`crate::grid`], the CLI's `grid`), each cell a sweep the page trains in turn, drawn as
//! the CLI's heatmap with each cell's rate filled in as it comes.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{HtmlCanvasElement, HtmlSelectElement, ShadowRoot};

use super::canvas::with_canvas;
use super::{find_parts, js_error, set_options};
use crate::dopesheet::Dopesheet;
use crate::element::grid_axis_choice;
use crate::grid::Grid;
use crate::plot::{self, HeatmapLayout, Rect};
use crate::stats::crumple_summary;

pub struct PhaseDiagram {
    grid: Grid,
    /// Where every cell's runs stop and are judged (`None`: the whole sheet).
    until: Option<u64>,
    /// The step the menus cut the cells' runs at (`None`: the element's own cut, if any).
    cut: Option<u64>,
    /// Seeds a cell.
    pub(super) runs: usize,
    /// `(crumpled, runs)` a cell; `(0, 0)` until it has trained.
    results: Vec<(usize, usize)>,
    layout: Option<HeatmapLayout>,
}

/// The most cells a page's grid trains: each is a sweep of its own.
pub const MAX_PAGE_CELLS: usize = 64;

impl PhaseDiagram {
    /// The grid the menus describe over `sheet`: the cells `x` and `y` (`column@step`, `y`
    /// empty for none) with their values' text (`FROM..TO/COUNT[:log]` or `V1,V2,…`), `runs`
    /// seeds a cell, cut and judged at the step `until` says, or else at the element's `to`
    /// (or at the sheet's end). What is wrong is refused with the part at fault named.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        sheet: &str,
        x: &str,
        x_values: &str,
        y: &str,
        y_values: &str,
        runs: usize,
        until: &str,
        to: Option<u64>,
    ) -> Result<PhaseDiagram, JsValue> {
        let cut = crate::settings::read_judged_step(until).map_err(js_error)?;
        let problem = |e: String| js_error(format!("grid: {e}"));
        let base = Dopesheet::parse(sheet).map_err(|e| problem(format!("the sheet: {e}")))?;
        let axes = crate::element::grid_axes(&[(x, x_values), (y, y_values)]);
        let grid = Grid::new(base, &axes).map_err(|e| problem(e.to_string()))?;
        if grid.len() > MAX_PAGE_CELLS {
            return Err(problem(format!(
                "{} cells; a page's grid trains at most {MAX_PAGE_CELLS} (the command line's \
                 `grid` takes more)",
                grid.len()
            )));
        }
        let results = vec![(0, 0); grid.len()];
        Ok(PhaseDiagram {
            grid,
            until: cut.or(to),
            cut,
            runs,
            results,
            layout: None,
        })
    }

    /// The step the menus cut the cells' runs at, if they name one.
    pub fn cut(&self) -> Option<u64> {
        self.cut
    }

    /// Cells in all.
    pub fn cells(&self) -> usize {
        self.grid.len()
    }

    /// The sheet cell `index` trains: the base sheet with that cell's values keyed in.
    pub fn cell_sheet(&self, index: usize) -> String {
        self.grid.cell(index).sheet.resolved_csv()
    }

    /// Cell `index`'s sweep came to `crumpled` of `runs` runs crumpled.
    pub fn set_result(&mut self, index: usize, crumpled: u32, runs: u32) {
        if let Some(slot) = self.results.get_mut(index) {
            *slot = (crumpled as usize, runs as usize);
        }
    }

    /// Draws the heatmap, the cells not trained yet marked `…`.
    pub fn draw(&mut self, canvas: &HtmlCanvasElement) {
        let mut layout = None;
        with_canvas(canvas, |s, w, h| {
            let area = Rect::new(0.0, 0.0, w, h);
            let (grid, cells) = (&self.grid, &self.results);
            layout = Some(plot::grid_heatmap(
                s, area, grid, cells, self.runs, self.until,
            ));
        });
        self.layout = layout;
    }

    /// The cell under (`x`, `y`), CSS pixels on the canvas as last drawn.
    pub fn cell_at(&self, x: f64, y: f64) -> Option<usize> {
        self.layout?.cell_at(x as f32, y as f32)
    }

    /// `reg-separate@0=0.3 · lr@0=0.01: crumpled 3/16 (19%, 95% CI 7–43%)`, or `… not
    /// trained yet`.
    pub fn describe(&self, index: usize) -> String {
        let cell = self.grid.cell(index);
        let values: Vec<String> = (self.grid.axes().iter().zip(&cell.values))
            .map(|(a, v)| format!("{}={v}", a.address()))
            .collect();
        let result = match self.results.get(index) {
            Some(&(k, n)) if n > 0 => crumple_summary(k, n),
            _ => "not trained yet".to_string(),
        };
        format!("{}: {result}", values.join(" · "))
    }
}

/// The keyframed cells a page's grid can vary: `column@step` for every column and keyframe
/// of `sheet` (a blank cell there becomes a key), in the sheet's order.
fn grid_addresses(sheet: &Dopesheet) -> Vec<String> {
    let mut addresses = Vec::new();
    for property in sheet.properties() {
        for keyframe in sheet.keyframes() {
            addresses.push(format!("{}@{}", property.name, keyframe.step));
        }
    }
    addresses
}

/// Fills the phase diagram's menus, while it is open, with `sheet`'s keyframed cells, each
/// keeping its choice where the sheet still has it ([`grid_axis_choice`]). A broken sheet
/// leaves them as they were: the editor names its problem.
#[wasm_bindgen]
pub fn show_grid_menus(root: &ShadowRoot, sheet: &str) -> Result<(), JsValue> {
    let [grid_box, x, y] = find_parts(
        root,
        [".grid-box", "[data-field=grid-x]", "[data-field=grid-y]"],
    )?;
    let Some(sheet) = (grid_box.has_attribute("open"))
        .then(|| Dopesheet::parse(sheet).ok())
        .flatten()
    else {
        return Ok(());
    };
    let addresses = grid_addresses(&sheet);
    for (menu, optional) in [(x, false), (y, true)] {
        let menu: HtmlSelectElement = menu.unchecked_into();
        let before = menu.value();
        let none = optional.then_some(("(none)", ""));
        let choices = addresses.iter().map(|a| (a.as_str(), a.as_str()));
        set_options(&menu, none.into_iter().chain(choices));
        menu.set_value(&grid_axis_choice(&addresses, &before, optional));
    }
    Ok(())
}
