//! The latent-evolution video: the recorder's frames as H.264 in an MP4 (`.mp4`, small
//! enough for a post or a slide), or as an animated PNG (`.png`, lossless and large).

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use mp4::{AvcConfig, MediaConfig, Mp4Config, Mp4Sample, Mp4Writer, TrackConfig, TrackType};
use openh264::encoder::{BitRate, Encoder, EncoderConfig, FrameRate, RateControlMode};
use openh264::formats::{RgbaSliceU8, YUVBuffer};
use openh264::OpenH264API;

use super::{io, progress_bar, CliError};
use crate::evolution::{self, Recorder, FRAMES_PER_SECOND, FRAME_SIZE};

/// What a `--video` path asks for, by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum VideoFormat {
    Mp4,
    AnimatedPng,
}

impl VideoFormat {
    pub(super) fn of(path: &Path) -> Result<Self, CliError> {
        let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        match extension.to_ascii_lowercase().as_str() {
            "mp4" => Ok(VideoFormat::Mp4),
            "png" | "apng" => Ok(VideoFormat::AnimatedPng),
            _ => Err(CliError::VideoFormat { path: path.into() }),
        }
    }
}

/// H.264's bit rate: a 30 fps, 480-pixel scatter of dots stays sharp at it, and ex-1.5's
/// 17 seconds come to under 4 MB.
const BITS_PER_SECOND: u32 = 1_800_000;

/// Writes the recordings to `file` (at `path`) at 30 frames a second.
pub(super) fn write_video(
    recorder: &Recorder,
    dims: usize,
    path: &Path,
    file: File,
    quiet: bool,
) -> Result<(), CliError> {
    let recordings = recorder.recordings();
    let bar = progress_bar(
        recordings.len() as u64,
        quiet,
        "video {bar:30} {pos}/{len} frames",
    );
    let frames = recordings.iter().enumerate().map(|(i, recording)| {
        bar.set_position(i as u64 + 1);
        evolution::frame_raster(recording, dims).map(|r| r.pixels)
    });
    match VideoFormat::of(path)? {
        VideoFormat::Mp4 => write_mp4(frames, path, file)?,
        VideoFormat::AnimatedPng => write_apng(frames, recordings.len(), path, file)?,
    }
    bar.finish_and_clear();
    eprintln!(
        "wrote {} ({} frames, steps 0 to {} every {}, {FRAMES_PER_SECOND} fps)",
        path.display(),
        recordings.len(),
        recordings.last().map_or(0, |r| r.step),
        recorder.stride()
    );
    Ok(())
}

/// An animated PNG, played once.
fn write_apng(
    frames: impl Iterator<Item = Result<Vec<u8>, crate::plot::TooLarge>>,
    count: usize,
    path: &Path,
    file: File,
) -> Result<(), CliError> {
    let mut encoder = png::Encoder::new(BufWriter::new(file), FRAME_SIZE, FRAME_SIZE);
    // The frames are opaque: RGB is a quarter less to store and compresses better.
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_animated(count as u32, 1).map_err(io(path))?;
    (encoder.set_frame_delay(1, FRAMES_PER_SECOND as u16)).map_err(io(path))?;
    let mut writer = encoder.write_header().map_err(io(path))?;
    for rgba in frames {
        let rgb: Vec<u8> = (rgba?.chunks_exact(4))
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        writer.write_image_data(&rgb).map_err(io(path))?;
    }
    writer.finish().map_err(io(path))
}

/// H.264 (OpenH264) in an MP4: a frame a sample, each 1/30 s long.
fn write_mp4(
    frames: impl Iterator<Item = Result<Vec<u8>, crate::plot::TooLarge>>,
    path: &Path,
    file: File,
) -> Result<(), CliError> {
    let failed = |what: &str, e: &dyn std::fmt::Display| CliError::Write {
        path: path.into(),
        message: format!("{what}: {e}"),
    };
    let config = EncoderConfig::new()
        .bitrate(BitRate::from_bps(BITS_PER_SECOND))
        .max_frame_rate(FrameRate::from_hz(FRAMES_PER_SECOND as f32))
        .rate_control_mode(RateControlMode::Bitrate);
    let mut encoder = Encoder::with_api_config(OpenH264API::from_source(), config)
        .map_err(|e| failed("starting the H.264 encoder", &e))?;
    let brand = |b: &str| b.parse().expect("a four-character code");
    let start = Mp4Config {
        major_brand: brand("isom"),
        minor_version: 512,
        compatible_brands: ["isom", "iso2", "avc1", "mp41"].map(brand).to_vec(),
        timescale: 1000,
    };
    let mut mp4 = Mp4Writer::write_start(BufWriter::new(file), &start)
        .map_err(|e| failed("writing the MP4", &e))?;
    let (mut track, mut index) = (false, 0u64);
    let size = FRAME_SIZE as usize;
    for rgba in frames {
        let rgba = rgba?;
        let yuv = YUVBuffer::from_rgb8_source(RgbaSliceU8::new(&rgba, (size, size)));
        let stream = encoder
            .encode(&yuv)
            .map_err(|e| failed("encoding a frame", &e))?;
        // Annex B units from the encoder; MP4 keeps SPS and PPS in the track's header and
        // each picture's units length-prefixed.
        let (mut sps, mut pps, mut sample, mut sync) = (None, None, Vec::new(), false);
        for l in 0..stream.num_layers() {
            let layer = stream.layer(l).expect("a layer below the count");
            for n in 0..layer.nal_count() {
                let unit = layer.nal_unit(n).expect("a unit below the count");
                let body = (unit.strip_prefix(&[0, 0, 0, 1][..]))
                    .or_else(|| unit.strip_prefix(&[0, 0, 1][..]))
                    .unwrap_or(unit);
                match body.first().map(|b| b & 0x1f) {
                    Some(7) => sps = Some(body.to_vec()),
                    Some(8) => pps = Some(body.to_vec()),
                    Some(kind) => {
                        sync |= kind == 5;
                        sample.extend_from_slice(&(body.len() as u32).to_be_bytes());
                        sample.extend_from_slice(body);
                    }
                    None => {}
                }
            }
        }
        if !track {
            let (Some(seq_param_set), Some(pic_param_set)) = (sps, pps) else {
                return Err(failed("encoding", &"the first frame has no SPS and PPS"));
            };
            let avc = AvcConfig {
                width: FRAME_SIZE as u16,
                height: FRAME_SIZE as u16,
                seq_param_set,
                pic_param_set,
            };
            let config = TrackConfig {
                track_type: TrackType::Video,
                timescale: FRAMES_PER_SECOND,
                language: "und".into(),
                media_conf: MediaConfig::AvcConfig(avc),
            };
            mp4.add_track(&config)
                .map_err(|e| failed("writing the MP4", &e))?;
            track = true;
        }
        let sample = Mp4Sample {
            start_time: index,
            duration: 1,
            rendering_offset: 0,
            is_sync: sync,
            bytes: bytes::Bytes::from(sample),
        };
        mp4.write_sample(1, &sample)
            .map_err(|e| failed("writing the MP4", &e))?;
        index += 1;
    }
    mp4.write_end().map_err(|e| failed("writing the MP4", &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extension_picks_the_format() {
        let of = |p: &str| VideoFormat::of(Path::new(p)).ok();
        assert_eq!(of("a/evolution.mp4"), Some(VideoFormat::Mp4));
        assert_eq!(of("EVOLUTION.MP4"), Some(VideoFormat::Mp4));
        assert_eq!(of("e.png"), Some(VideoFormat::AnimatedPng));
        assert_eq!(of("e.apng"), Some(VideoFormat::AnimatedPng));
        assert_eq!(of("e.webm"), None);
        assert_eq!(of("e"), None);
    }
}
