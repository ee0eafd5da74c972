//! The kernel's functions against their host twins in `step/`, on whatever Vulkan device wgpu
//! finds (lavapipe in CI), as llm.c tests each CUDA kernel against its CPU function. The GPU's
//! `exp` and `sqrt` are its own, so the twins agree to a few ulp, not bit for bit.

use cubecl::client::Client;

use super::*;
use crate::step::loss::{objective, HostBatch, HostGradient, PerTerm, Term};
use crate::step::{activation, adam};

/// The compute client of the device the engine would use (its runtime starts once).
fn client() -> Client {
    static GPU: std::sync::OnceLock<burn::prelude::Device> = std::sync::OnceLock::new();
    let device = GPU.get_or_init(|| {
        burn::prelude::Device::wgpu_options()
            .init()
            .unwrap_or_else(|e| {
                panic!(
                    "no wgpu adapter ({e}). On Debian, `apt install mesa-vulkan-drivers` \
                     gives a Vulkan device on the CPU (lavapipe)"
                )
            })
    });
    super::super::Gpu::of(device).expect("a wgpu device").client
}

fn buffer(client: &Client, values: &[f32]) -> (cubecl::server::Handle, usize) {
    (
        client.create_from_slice(f32::as_bytes(values)),
        values.len(),
    )
}

fn arg(buffer: &(cubecl::server::Handle, usize)) -> BufferArg {
    // SAFETY: the handle was made from `buffer.1` floats.
    unsafe { BufferArg::from_raw_parts(buffer.0.clone(), buffer.1) }
}

fn read(client: &Client, buffer: (cubecl::server::Handle, usize)) -> Vec<f32> {
    let bytes = client.read_one(buffer.0).expect("a read-back");
    f32::from_bytes(&bytes)[..buffer.1].to_vec()
}

fn close(what: &str, got: f32, want: f32, tolerance: f32) {
    assert!(
        (got - want).abs() <= tolerance * (1.0 + want.abs()),
        "{what}: GPU {got}, host {want}"
    );
}

#[cube(launch)]
fn activations_of(x: &[f32], out: &mut [f32]) {
    let i = ABSOLUTE_POS;
    if i < x.len() {
        let (g, s) = gelu_and_slope(x[i]);
        out[i * 3] = g;
        out[i * 3 + 1] = s;
        out[i * 3 + 2] = sigmoid(x[i]);
    }
}

#[test]
fn gelu_and_slope_and_sigmoid_are_the_hosts() {
    let client = client();
    let x: Vec<f32> = (0..=1600).map(|i| (i as f32 - 800.0) / 100.0).collect();
    let input = buffer(&client, &x);
    let out = buffer(&client, &vec![0.0; x.len() * 3]);
    activations_of::launch(
        &client,
        CubeCount::Static(x.len().div_ceil(UNITS as usize) as u32, 1, 1),
        CubeDim::new_1d(UNITS),
        arg(&input),
        arg(&out),
    );
    let out = read(&client, out);
    for (i, &v) in x.iter().enumerate() {
        let (g, s) = activation::gelu_and_slope(v);
        close(&format!("gelu({v})"), out[i * 3], g, 1e-6);
        close(&format!("gelu'({v})"), out[i * 3 + 1], s, 1e-6);
        close(
            &format!("sigmoid({v})"),
            out[i * 3 + 2],
            activation::sigmoid(v),
            1e-6,
        );
    }
}

#[cube(launch)]
fn adam_of(values: &[f32], out: &mut [f32], time: u32, lr: f32) {
    let i = ABSOLUTE_POS;
    if i * 4 < values.len() {
        let (combined, epsilon) = corrections(time);
        let (p, m1, m2) = adam_step(
            values[i * 4],
            values[i * 4 + 1],
            values[i * 4 + 2],
            values[i * 4 + 3],
            lr,
            combined,
            epsilon,
        );
        out[i * 3] = p;
        out[i * 3 + 1] = m1;
        out[i * 3 + 2] = m2;
    }
}

#[test]
fn corrections_and_adam_step_are_the_hosts() {
    let client = client();
    // (parameter, gradient, moment 1, moment 2) for 64 parameters.
    let values: Vec<f32> = (0..256)
        .map(|i| match i % 4 {
            3 => ((i as f32) * 0.37).sin().abs() * 1e-3,
            _ => ((i as f32) * 0.61).cos() * 0.5,
        })
        .collect();
    for time in [1u32, 2, 7, 100, 3_000, 20_001] {
        let input = buffer(&client, &values);
        let out = buffer(&client, &[0.0; 64 * 3]);
        adam_of::launch(
            &client,
            CubeCount::Static(1, 1, 1),
            CubeDim::new_1d(64),
            arg(&input),
            arg(&out),
            time,
            0.01,
        );
        let out = read(&client, out);
        let (combined, epsilon) = adam::corrections(time as i32);
        for (i, v) in values.chunks(4).enumerate() {
            let want = adam::adam_step(v[0], v[1], v[2], v[3], 0.01, combined, epsilon);
            close(&format!("t {time} parameter {i}"), out[i * 3], want.0, 1e-6);
            close(
                &format!("t {time} moment 1 {i}"),
                out[i * 3 + 1],
                want.1,
                1e-6,
            );
            close(
                &format!("t {time} moment 2 {i}"),
                out[i * 3 + 2],
                want.2,
                1e-6,
            );
        }
    }
}

/// The five term functions over a batch of `batch` rows then 6 anchor rows, on one unit:
/// each term's sum over the rows (`out[0..5]`), then each row's `d outputs` (3) and
/// `d latents` (E). `rows` holds each row's input (3), output (3) and latents (E);
/// `latents` the batch's latents dim-major (dims 0 and 1, one per row), then the anchor
/// reference.
#[cube(launch)]
fn terms_of(
    rows: &[f32],
    latents: &mut [f32],
    out: &mut [f32],
    batch: u32,
    slopes: &[f32],
    #[comptime] dims: usize,
) {
    let batch_rows = batch as usize;
    let width = 6 + dims;
    let mut row = new_row(dims);
    let mut d_outputs = Array::<f32>::new(3usize);
    let mut d_latents = Array::<f32>::new(dims);
    let mut sums = Array::<f32>::new(5usize);
    #[unroll]
    for t in 0..5usize {
        sums[t] = 0.0f32;
    }
    for k in 0..batch_rows + 6 {
        #[unroll]
        for c in 0..3usize {
            row.input[c] = rows[k * width + c];
            row.outputs[c] = rows[k * width + 3 + c];
            d_outputs[c] = 0.0f32;
        }
        #[unroll]
        for d in 0..dims {
            row.latents[d] = rows[k * width + 6 + d];
            d_latents[d] = 0.0f32;
        }
        if k < batch_rows {
            sums[0] += reconstruction(&row, &mut d_outputs, slopes[0]);
            sums[1] += separation(
                latents,
                0,
                batch_rows,
                k,
                batch_rows,
                &row,
                &mut d_latents,
                slopes[1],
            );
            sums[2] += planarity(&row, &mut d_latents, slopes[2], dims);
            sums[3] += unit_norm(&row, &mut d_latents, slopes[3], dims);
        } else {
            let at = 2 * batch_rows + (k - batch_rows) * dims;
            sums[4] += anchor(&row, latents, at, &mut d_latents, slopes[4], dims);
        }
        let at = 5 + k * (3 + dims);
        #[unroll]
        for c in 0..3usize {
            out[at + c] = d_outputs[c];
        }
        #[unroll]
        for d in 0..dims {
            out[at + 3 + d] = d_latents[d];
        }
    }
    #[unroll]
    for t in 0..5usize {
        out[t] = sums[t];
    }
}

/// Each term's value (its sum over the rows, scaled as `train_step` scales it) and its
/// gradient, against the host's [`objective`] with that term alone weighted.
#[test]
fn each_term_is_the_hosts() {
    const DIMS: usize = 4;
    let batch = 9usize;
    let n = batch + 6;
    let value = |i: usize, salt: f32| ((i as f32 + 1.0) * salt).sin();
    let input: Vec<f32> = (0..n * 3).map(|i| value(i, 0.7).abs()).collect();
    let outputs: Vec<f32> = (0..n * 3).map(|i| value(i, 1.3).abs()).collect();
    let z: Vec<f32> = (0..n * DIMS).map(|i| value(i, 2.1) * 1.5).collect();
    let reference: Vec<f32> = (0..6 * DIMS).map(|i| value(i, 0.4)).collect();

    let mut rows = Vec::new();
    for k in 0..n {
        rows.extend_from_slice(&input[k * 3..k * 3 + 3]);
        rows.extend_from_slice(&outputs[k * 3..k * 3 + 3]);
        rows.extend_from_slice(&z[k * DIMS..(k + 1) * DIMS]);
    }
    let mut columns: Vec<f32> = (0..batch).map(|k| z[k * DIMS]).collect();
    columns.extend((0..batch).map(|k| z[k * DIMS + 1]));
    columns.extend_from_slice(&reference);

    let weight = 0.7f32;
    let b = batch as f32;
    // Each term's scale: 1 / (what its sum is averaged over).
    let scales = [
        1.0 / (3.0 * b),
        1.0 / (b * b),
        1.0 / (b * (DIMS - 2) as f32),
        1.0 / b,
        1.0 / (6 * DIMS) as f32,
    ];
    // The gradient's slopes as train_step forms them.
    let slopes = [
        weight * (2.0 / (3.0 * b)),
        weight * (-4.0 / (b * b)),
        weight * (2.0 / (b * (DIMS - 2) as f32)),
        weight * (2.0 / b),
        weight * (2.0 / (6 * DIMS) as f32),
    ];

    let client = client();
    let (rows_gpu, columns_gpu) = (buffer(&client, &rows), buffer(&client, &columns));
    let out = buffer(&client, &vec![0.0; 5 + n * (3 + DIMS)]);
    let slopes_gpu = buffer(&client, &slopes);
    terms_of::launch(
        &client,
        CubeCount::Static(1, 1, 1),
        CubeDim::new_1d(1),
        arg(&rows_gpu),
        arg(&columns_gpu),
        arg(&out),
        batch as u32,
        arg(&slopes_gpu),
        DIMS,
    );
    let out = read(&client, out);

    let host = HostBatch {
        outputs: &outputs,
        latents: &z,
        input: &input[..batch * 3],
        anchor: &reference,
        dims: DIMS,
        batch,
    };
    for (t, term) in Term::ALL.into_iter().enumerate() {
        let weights = PerTerm::from_fn(|u| if u == term { weight as f64 } else { 0.0 });
        let mut g = HostGradient::default();
        g.reset(&host);
        let want = objective(&host, &weights, Some(&mut g));
        close(
            &format!("{term}"),
            out[t] * scales[t],
            want.terms[term],
            1e-5,
        );
        let mut reached = false;
        for k in 0..n {
            let at = 5 + k * (3 + DIMS);
            // The kernel's row gradients hold every term; the host's this term alone, so
            // compare where only this term reaches.
            let (outputs_only, latents_only) = match term {
                Term::Reconstruction => (true, false),
                Term::Anchor => (false, k >= batch),
                _ => (false, false),
            };
            if outputs_only && k < batch {
                for c in 0..3 {
                    close(
                        &format!("{term} d output {k}.{c}"),
                        out[at + c],
                        g.outputs[k * 3 + c],
                        1e-5,
                    );
                    reached = true;
                }
            }
            if latents_only {
                for d in 0..DIMS {
                    close(
                        &format!("{term} d latent {k}.{d}"),
                        out[at + 3 + d],
                        g.latents[k * DIMS + d],
                        1e-5,
                    );
                    reached = true;
                }
            }
        }
        // The latent terms share the batch rows' gradient: their sum is compared below.
        assert!(reached || term != Term::Reconstruction && term != Term::Anchor);
    }
    // Separation, planarity and unit norm together on the batch rows.
    let weights = PerTerm::from_fn(|u| match u {
        Term::Separation | Term::Planarity | Term::UnitNorm => weight as f64,
        _ => 0.0,
    });
    let mut g = HostGradient::default();
    g.reset(&host);
    objective(&host, &weights, Some(&mut g));
    for k in 0..batch {
        for d in 0..DIMS {
            close(
                &format!("latent terms d latent {k}.{d}"),
                out[5 + k * (3 + DIMS) + 3 + d],
                g.latents[k * DIMS + d],
                1e-5,
            );
        }
    }
}

/// Each row of `rgb` through the model whose parameters `state` holds: its latents, then its
/// reconstruction, `dims + 3` values a row.
#[cube(launch)]
fn forward_of(state: &mut [f32], rgb: &[f32], out: &mut [f32], #[comptime] dims: usize) {
    let k = ABSOLUTE_POS;
    if k * 3 < rgb.len() {
        let mut row = new_row(dims);
        #[unroll]
        for c in 0..3usize {
            row.input[c] = rgb[k * 3 + c];
        }
        forward(state, 0, &mut row, dims);
        let at = k * (dims + 3);
        #[unroll]
        for d in 0..dims {
            out[at + d] = row.latents[d];
        }
        #[unroll]
        for c in 0..3usize {
            out[at + dims + c] = row.outputs[c];
        }
    }
}

/// The kernel's layers (`dense`, GELU, `sigmoid`, in `forward`) against the host's
/// ([`step::infer`](crate::step::infer)), for E = 2, 3 and 4 on the RGB grid.
#[test]
fn forward_is_the_hosts() {
    use crate::data::ColorCube;
    use crate::step::layout::initial_parameters;
    let client = client();
    let rgb = ColorCube::rgb_grid().rgb_f32();
    let rows = rgb.len() / 3;
    for (dims, seed) in [(2usize, 3u64), (3, 4), (4, 5)] {
        let params = initial_parameters(dims, seed);
        let (outputs, latents) = crate::step::infer(&params, dims, &rgb);
        let (state, colours) = (buffer(&client, &params), buffer(&client, &rgb));
        let out = buffer(&client, &vec![0.0; rows * (dims + 3)]);
        forward_of::launch(
            &client,
            CubeCount::Static(rows.div_ceil(UNITS as usize) as u32, 1, 1),
            CubeDim::new_1d(UNITS),
            arg(&state),
            arg(&colours),
            arg(&out),
            dims,
        );
        let out = read(&client, out);
        for k in 0..rows {
            let at = k * (dims + 3);
            for d in 0..dims {
                close(
                    &format!("E {dims} row {k} latent {d}"),
                    out[at + d],
                    latents[k * dims + d],
                    1e-5,
                );
            }
            for c in 0..3 {
                close(
                    &format!("E {dims} row {k} output {c}"),
                    out[at + dims + c],
                    outputs[k * 3 + c],
                    1e-5,
                );
            }
        }
    }
}

/// `dx = W · dy` for each row of `dy` (row-major, `outputs` a row), through the layer whose
/// weight starts at `weight`.
#[cube(launch)]
fn dense_backward_of(
    state: &mut [f32],
    dy: &[f32],
    out: &mut [f32],
    weight: u32,
    #[comptime] inputs: usize,
    #[comptime] outputs: usize,
) {
    let k = ABSOLUTE_POS;
    if k * outputs < dy.len() {
        let mut d_out = Array::<f32>::new(outputs);
        for o in 0..outputs {
            d_out[o] = dy[k * outputs + o];
        }
        let mut dx = Array::<f32>::new(inputs);
        for i in 0..inputs {
            dx[i] = 0.0f32;
        }
        dense_backward(state, weight as usize, &d_out, &mut dx, inputs, outputs);
        for i in 0..inputs {
            out[k * inputs + i] = dx[i];
        }
    }
}

/// The gradient at each layer's input (`dense_backward`) against the host's
/// ([`Layer::backward`](crate::step::Layer)), for the four layers of E = 4.
#[test]
fn dense_backward_is_the_hosts() {
    use crate::step::layout::initial_parameters;
    use crate::step::Layer;
    let client = client();
    let params = initial_parameters(4, 6);
    let rows = 37;
    let state = buffer(&client, &params);
    for (l, layer) in Layer::all(4).into_iter().enumerate() {
        let (inputs, outputs) = (layer.inputs, layer.outputs);
        let dy: Vec<f32> = (0..rows * outputs)
            .map(|i| ((i as f32 + 1.0) * 0.37).sin())
            .collect();
        // The host's activations are feature-major.
        let dy_features: Vec<f32> = (0..outputs)
            .flat_map(|o| (0..rows).map(move |k| (o, k)))
            .map(|(o, k)| dy[k * outputs + o])
            .collect();
        let x = vec![0.0; inputs * rows];
        let (mut grads, mut dx) = (vec![0.0; params.len()], Vec::new());
        layer.backward(&params, &x, &dy_features, rows, &mut grads, Some(&mut dx));
        let (dy_gpu, out) = (
            buffer(&client, &dy),
            buffer(&client, &vec![0.0; rows * inputs]),
        );
        dense_backward_of::launch(
            &client,
            CubeCount::Static(1, 1, 1),
            CubeDim::new_1d(64),
            arg(&state),
            arg(&dy_gpu),
            arg(&out),
            layer.weight as u32,
            inputs,
            outputs,
        );
        let out = read(&client, out);
        for k in 0..rows {
            for i in 0..inputs {
                close(
                    &format!("layer {l} row {k} input {i}"),
                    out[k * inputs + i],
                    dx[i * rows + k],
                    1e-5,
                );
            }
        }
    }
}
