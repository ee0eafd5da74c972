//! The latent-evolution video: the worker draws each recorded frame, the page plays them into
//! a recorder at the video's frame rate (a recorder keeps wall-clock time, so this takes as
//! long as the video lasts) and downloads the WebM. A new run or a move to another engine takes
//! the frames away: the video stops and says so.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::flows::message;
use super::ElementCore;
use crate::element::engines::Failure;
use crate::evolution::{FRAMES_PER_SECOND, FRAME_SIZE};
use crate::web::element::problem;
use crate::web::{find_part, get, now, set_property};

#[wasm_bindgen]
extern "C" {
    /// The platform's recorder of a canvas `FRAME_SIZE` square (`www/color-bottleneck.js`).
    pub type Recorder;
    /// Starts recording.
    #[wasm_bindgen(method)]
    fn start(this: &Recorder);
    /// Draws a frame's RGBA pixels; throws on a frame that is not one.
    #[wasm_bindgen(method, catch)]
    fn put(this: &Recorder, pixels: &JsValue) -> Result<(), JsValue>;
    /// Stops recording: resolves with the video, a Blob.
    #[wasm_bindgen(method)]
    fn done(this: &Recorder) -> js_sys::Promise;
    /// Stops recording, if it still does, and keeps nothing.
    #[wasm_bindgen(method)]
    fn stop(this: &Recorder);
}

impl ElementCore {
    /// Asks the worker training the run shown (the first) `message`.
    pub(super) async fn ask_first(&self, message: js_sys::Object) -> Result<JsValue, Failure> {
        let Some(worker) = self.js().workers().iter().next() else {
            return Err(Failure::Problem("not ready".to_string()));
        };
        self.0.host.wait(self.0.host.ask(&worker, &message)).await
    }

    /// Records the run shown as a video and downloads it. A double click records once.
    pub(super) async fn video_flow(&self) -> Result<(), Failure> {
        let root = self.shown().root.clone();
        let button = find_part(&root, "[data-action=export-video]").map_err(problem)?;
        if get(&button, "disabled").as_bool() == Some(true) {
            return Ok(());
        }
        let recorder = self.js().recorder(FRAME_SIZE, FRAMES_PER_SECOND);
        let recorder = recorder.map_err(problem)?;
        if recorder.is_undefined() {
            self.notify("this browser cannot record video (no MediaRecorder)");
            return Ok(());
        }
        let recorder: Recorder = recorder.unchecked_into();
        // Off before the first question to the worker.
        set_property(&button, "disabled", true);
        let run = self.0.runs.borrow().latest();
        let recorded = self.record(run, &recorder).await;
        recorder.stop();
        set_property(&button, "disabled", false);
        if let Ok(progress) = find_part(&root, "[data-field=video-progress]") {
            set_property(&progress, "hidden", true);
        }
        match recorded {
            // A new run (Apply, Reset, more seeds) or a move to another engine took the frames
            // away, or the element left the page: not a failure of the video.
            Err(Failure::Problem(p)) if self.0.runs.borrow().latest() == run => {
                Err(Failure::Problem(p))
            }
            Err(_) => {
                if self.shown().node.is_connected() {
                    self.notify("video stopped: its run was replaced or moved to another engine; press Video again");
                }
                Ok(())
            }
            Ok(()) => Ok(()),
        }
    }

    /// Plays run `run`'s frames into `recorder`; gives up where a newer run replaced it.
    async fn record(&self, run: u64, recorder: &Recorder) -> Result<(), Failure> {
        let counted = self.ask_first(message("video-frames", &[])).await?;
        let frames = get(&counted, "frames").as_f64().unwrap_or(0.0) as u32;
        if frames == 0 {
            self.notify("no video frames yet: train a few steps first");
            return Ok(());
        }
        recorder.start();
        let progress =
            find_part(&self.shown().root, "[data-field=video-progress]").map_err(problem)?;
        set_property(&progress, "max", frames);
        set_property(&progress, "value", 0);
        set_property(&progress, "hidden", false);
        let ask = |i: u32| Box::pin(self.ask_first(message("video-frame", &[("index", i.into())])));
        let mut next = Some(ask(0));
        let started = now();
        for i in 0..frames {
            let Some(pending) = next.take() else { break };
            let frame = pending.await?;
            if self.0.runs.borrow().latest() != run {
                return Err(Failure::Stopped);
            }
            // The next frame is drawn while this one shows.
            if i + 1 < frames {
                next = Some(ask(i + 1));
            }
            (recorder.put(&get(&frame, "pixels"))).map_err(problem)?;
            set_property(&progress, "value", i + 1);
            let due = started + f64::from(i + 1) * 1000.0 / f64::from(FRAMES_PER_SECOND);
            let _ = self
                .0
                .host
                .wait(self.js().sleep((due - now()).max(0.0)))
                .await;
        }
        let video = self.0.host.wait(recorder.done()).await?;
        (self.js().download("evolution.webm", &video, "video/webm")).map_err(problem)
    }
}
