//! The phase diagram in the element: the grid its menus describe, trained cell after cell as
//! the run shown ([`train_grid`]), each rate filled in as its sweep finishes.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::ShadowRoot;

use super::{ElementCore, Shown};
use crate::element::engines::Failure;
use crate::element::grid_run::{train_grid, GridHost};
use crate::web::element::{error_text, problem};
use crate::web::{find_part, set_text, value, PhaseDiagram};

/// A phase diagram filling in ([`train_grid`]) over the element's core: grid `grid`'s cells
/// train as the run shown, one after another.
struct GridView<'a> {
    core: &'a ElementCore,
    grid: u64,
}

impl GridView<'_> {
    /// Runs `f` on the diagram, where this grid's is still the one on screen.
    fn diagram(&self, f: impl FnOnce(&mut PhaseDiagram, &ShadowRoot)) {
        let mut shown = self.core.shown();
        let Shown { diagram, root, .. } = &mut *shown;
        if let Some((diagram, grid)) = diagram {
            if *grid == self.grid {
                f(diagram, root);
            }
        }
    }
}

impl GridHost for GridView<'_> {
    async fn start(&self, sheet: &str) -> Result<(), Failure> {
        self.core.create(sheet, None).await
    }

    fn play(&self) {
        self.core.play();
    }

    async fn next_frame(&self) {
        let _ = wasm_bindgen_futures::JsFuture::from(self.core.js().frame()).await;
    }

    fn has_view(&self) -> bool {
        self.core.0.trained.borrow().grid_is(self.grid) && self.core.shown().node.is_connected()
    }

    fn finished(&self) -> bool {
        self.core.finished()
    }

    fn counts(&self) -> (u32, u32) {
        self.core.sweep_counts()
    }

    fn fill_in(&self, cell: usize, crumpled: u32, judged: u32) {
        self.diagram(|diagram, root| {
            diagram.set_result(cell, crumpled, judged);
            if let Ok(canvas) = find_part(root, "[data-canvas=grid]") {
                diagram.draw(canvas.unchecked_ref());
            }
        });
    }

    fn status(&self, text: &str) {
        self.diagram(|_, root| {
            if let Ok(status) = find_part(root, "[data-field=grid-status]") {
                set_text(&status, text);
            }
        });
    }

    fn now_ms(&self) -> f64 {
        js_sys::Date::now()
    }
}

impl ElementCore {
    /// A menu's or a field's `value`.
    fn value_of(&self, selector: &str) -> Result<String, JsValue> {
        Ok(value(&find_part(&self.shown().root, selector)?))
    }

    pub(super) async fn grid_flow(&self) -> Result<(), Failure> {
        let sheet = self.shown().editor.text();
        let root = self.shown().root.clone();
        crate::web::show_grid_menus(&root, &sheet).map_err(problem)?;
        let menu = |name: &str| self.value_of(&format!("[data-field=grid-{name}]"));
        let runs: usize = menu("runs").map_err(problem)?.parse().unwrap_or(16);
        let to = self.0.trained.borrow().range().and_then(|r| r.to);
        let made = (|| {
            PhaseDiagram::new(
                &sheet,
                &menu("x")?,
                &menu("x-range")?,
                &menu("y")?,
                &menu("y-range")?,
                runs,
                &menu("until")?,
                to,
            )
        })();
        let status = find_part(&root, "[data-field=grid-status]").map_err(problem)?;
        let mut diagram = match made {
            Ok(diagram) => diagram,
            Err(e) => {
                set_text(&status, &error_text(&e));
                return Ok(());
            }
        };
        let cells: Vec<String> = (0..diagram.cells())
            .map(|i| diagram.cell_sheet(i))
            .collect();
        let grid = self.0.trained.borrow_mut().begin_grid(diagram.cut());
        let canvas: web_sys::HtmlCanvasElement = find_part(&root, "[data-canvas=grid]")
            .map_err(problem)?
            .unchecked_into();
        canvas.set_hidden(false);
        diagram.draw(&canvas);
        let seeds = diagram.runs;
        self.shown().diagram = Some((diagram, grid));
        // The runs menu follows at each cell's start.
        self.show_spec(None, &[("runs", runs as u64)])
            .map_err(problem)?;
        let view = GridView { core: self, grid };
        let trained = train_grid(&view, &cells, seeds).await;
        self.0.trained.borrow_mut().grid_done(grid);
        trained.map(drop)
    }
}

impl ElementCore {
    /// What the phase diagram's cell under (`x`, `y`) holds, as its title says.
    pub(super) fn grid_title(&self, x: f64, y: f64) -> String {
        let shown = self.shown();
        let described =
            (shown.diagram.as_ref()).and_then(|(d, _)| Some(d.describe(d.cell_at(x, y)?)));
        match described {
            Some(text) => format!("{text} (click to open its sheet)"),
            None => "click a cell to open its sheet".to_string(),
        }
    }

    /// The sheet of the phase diagram's cell under (`x`, `y`), if any.
    pub(super) fn cell_sheet(&self, x: f64, y: f64) -> Option<String> {
        let shown = self.shown();
        let (diagram, _) = shown.diagram.as_ref()?;
        Some(diagram.cell_sheet(diagram.cell_at(x, y)?))
    }

    /// Puts a cell's `sheet` in the editor and trains it (the grid's seeds, to its end).
    pub(super) async fn open_cell(&self, sheet: String) -> Result<(), Failure> {
        self.replace_view();
        self.0.trained.borrow_mut().fresh(None);
        self.shown().editor.show(&sheet);
        self.create(&sheet, None).await?;
        self.record_edit();
        self.play();
        Ok(())
    }
}
