//! Project tasks: `cargo xtask <test|serve|build-web|bench-web|fuzz|soak|gpu-kit>`.
//!
//! One entry point for a fresh machine: it adds the wasm target, generates the bindings with
//! the wasm-bindgen version pinned in Cargo.lock (as a library, no CLI install), serves the
//! page, and drives headless Chromium for the browser tests.

mod gpu_kit;
mod page_assets;
mod server;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

const WASM_TARGET: &str = "wasm32-unknown-unknown";
const DEFAULT_PORT: u16 = 8000;

/// The page's Content-Security-Policy: no inline script, no eval (wasm compilation aside). The
/// server sends it as a header and every HTML page carries it as a `<meta>`, so a copy of
/// `dist/` on any static host keeps it; `build_web` refuses a page whose `<meta>` differs.
/// `blob:` workers: the element starts its worker through a blob when embedded cross-origin.
const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
    worker-src 'self' blob:; style-src 'self'; img-src 'self' data: blob:; object-src 'none'; \
    base-uri 'none'; form-action 'none'";

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("serve") => serve(&args[1..]),
        Some("build-web") => build_web(args.iter().any(|a| a == "--profiling")).map(|_| ()),
        Some("bench-web") => bench_web(),
        Some("fuzz") => seconds_arg(&args[1..]).and_then(fuzz),
        Some("soak") => soak(&args[1..]),
        Some("gpu-kit") => gpu_kit::gpu_kit(),
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage: cargo xtask <command>
  test [--native-only]   every test: fmt, clippy, native tests, wasm build, headless-browser tests
  serve [--port N]       build the page (release wasm) and serve it on http://127.0.0.1:8000
  build-web [--profiling]  write the self-contained static site to dist/ (--profiling keeps
                           function names in the wasm for browser profilers)
  bench-web              headless-browser benchmark of the page, printed as a table
  fuzz [--seconds N]     generated and mutated sheets through the parser, resolver and
                         timeline in release mode (default 60 s)
  soak [--cli | --page]  1,000,000 steps each: the CLI on one long sheet (resident memory over
                         time and its peak), and the page in headless Chromium (ex-1.5 again and
                         again with Apply live; wasm memory and JS heaps every 50,000 steps)
  gpu-kit                pack .gpu-kit/ for a lent GPU machine (no Rust there): the timing
                         program built, the Vulkan loader, and the script that times the
                         GPU targets (`bash .gpu-kit/run.sh`)";

fn root() -> PathBuf {
    // Ask at run time: two checkouts sharing one CARGO_TARGET_DIR share one xtask binary, so
    // a path baked in at compile time could point at the other checkout.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Where cargo builds: `CARGO_TARGET_DIR` (CI keeps one warm) or the workspace's `target/`.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    // `cargo run` hands its own (empty) flags down; drop them so .cargo/config.toml's
    // per-target rustflags (wasm SIMD) apply.
    c.current_dir(root()).env_remove("CARGO_ENCODED_RUSTFLAGS");
    c
}

fn run(command: &mut Command, what: &str) -> Result {
    eprintln!("xtask: {what}");
    let status = command
        .status()
        .map_err(|e| format!("{what}: could not start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what}: failed ({status})"))
    }
}

/// Built with planarity's gradient 10% off (`--features mutant-planarity-gradient`), each check
/// of the step must fail, and say so by name: the oracle comparison, the finite-difference
/// check, the kernel's twin and the GPU engine against the CPU engine.
fn mutation_check() -> Result {
    let checks: [(&[&str], &[&str]); 2] = [
        (
            &[
                "--features",
                "mutant-planarity-gradient",
                "--test",
                "conformance",
                "--test",
                "losses",
            ],
            &[
                "the_cpu_engine_conforms_to_the_oracle_on_every_case",
                "gradients_match_finite_differences",
            ],
        ),
        (
            &[
                "--release",
                "--features",
                "wgpu,mutant-planarity-gradient",
                "--lib",
                "--test",
                "gpu_step",
                "--",
                "twins",
                "the_gpu_step_is",
            ],
            &[
                "gpu_step::kernel::twins::each_term_is_the_hosts",
                "the_gpu_step_is_the_fused_cpu_step",
            ],
        ),
    ];
    for (args, must_fail) in checks {
        eprintln!("xtask: mutation check: cargo test {}", args.join(" "));
        let out = cargo()
            .args(["test", "--no-fail-fast"])
            .args(args)
            .env("COLOR_BOTTLENECK_MUTATION_CHECK", "1")
            .output()
            .map_err(|e| format!("mutation check: could not start cargo: {e}"))?;
        let printed = String::from_utf8_lossy(&out.stdout);
        let errors = String::from_utf8_lossy(&out.stderr);
        for test in must_fail {
            if !printed.contains(&format!("test {test} ... FAILED")) {
                return Err(format!(
                    "mutation check: with planarity's gradient broken, {test} did not fail \
                     (cargo test {}):\n{printed}\n{errors}",
                    args.join(" ")
                ));
            }
        }
        if out.status.success() {
            return Err("mutation check: cargo test passed with a broken gradient".into());
        }
    }
    eprintln!("xtask: mutation check: every check noticed the broken gradient");
    Ok(())
}

fn test(args: &[String]) -> Result {
    let native_only = args.iter().any(|a| a == "--native-only");
    let started = Instant::now();
    require_vulkan()?;
    if !native_only {
        // Before anything compiles: a missing browser should cost seconds, not a build.
        chromium()?;
        require_node()?;
    }
    run(
        cargo().args(["fmt", "--all", "--check"]),
        "cargo fmt --check",
    )?;
    run(
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
        "cargo clippy -D warnings",
    )?;
    // The GPU engine, its kernel's twin tests and tests/gpu_step.rs build only with wgpu.
    run(
        cargo().args([
            "clippy",
            "--all-targets",
            "--features",
            "wgpu",
            "--",
            "-D",
            "warnings",
        ]),
        "cargo clippy --features wgpu -D warnings",
    )?;
    // Before the other tests: the binaries they build last are the ones left in the target
    // directory, and a mutant's `color-bottleneck` must not be one of them.
    mutation_check()?;
    run(cargo().args(["test", "--workspace"]), "native tests")?;
    // The kernel's functions against their host twins, and the GPU engine against the CPU
    // engine, on whatever Vulkan device there is (Mesa's lavapipe on a machine without a GPU).
    // Release: the same build as the benchmarks.
    for (target, what) in [
        (
            ["--lib", "gpu_step::kernel::twins"],
            "GPU kernel twins (wgpu)",
        ),
        (["--test", "gpu_step"], "GPU engine test (wgpu)"),
        (
            ["--test", "conformance"],
            "conformance, the GPU engine included (wgpu)",
        ),
    ] {
        let args = ["test", "--release", "--features", "wgpu"];
        run(cargo().args(args).args(target), what)?;
    }
    fuzz(30)?;
    if !native_only {
        ensure_wasm_target()?;
        for module in &WEB_MODULES {
            let features = module.features.join(",");
            run(
                cargo().args([
                    "clippy",
                    "--lib",
                    "--target",
                    WASM_TARGET,
                    "--features",
                    &features,
                    "--",
                    "-D",
                    "warnings",
                ]),
                &format!("cargo clippy (wasm32, {}/) -D warnings", module.folder),
            )?;
        }
        let site = build_web(false)?;
        check_download_sizes(&site)?;
        browser_tests(&site.dist)?;
    }
    eprintln!(
        "xtask: all tests passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn seconds_arg(args: &[String]) -> Result<u64> {
    match args.iter().position(|a| a == "--seconds") {
        Some(i) => args
            .get(i + 1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| "--seconds needs a whole number".to_string()),
        None => Ok(60),
    }
}

/// The dopesheet fuzzer (examples/fuzz_sheets.rs) for `seconds`, in release mode.
fn fuzz(seconds: u64) -> Result {
    run(
        cargo().args([
            "run",
            "--release",
            "--quiet",
            "--example",
            "fuzz_sheets",
            "--",
            "--seconds",
            &seconds.to_string(),
        ]),
        &format!("fuzz the dopesheet parser for {seconds} s"),
    )
}

/// ex-1.5's curriculum 50 times over, a phase per segment: 1,000,050 steps.
fn million_step_sheet() -> String {
    let mut sheet = String::from(
        "STEP,PHASE,ACTION,lr,loss-recon,reg-separate,reg-planar,reg-norm,reg-anchor,data-fraction\n",
    );
    for round in 0..50u64 {
        let at = round * 20_001;
        sheet.push_str(&format!(
            "{at},Primary & secondary {round},,0.01,1.0,0.0,0.2,0.1,0,0\n\
             {},All hues {round},anchor,,0.8,0.0,0.4,0.25,0.0,0.0\n\
             {},Full color space {round},,,1.0,,0.0,,0.3,1.0\n",
            at + 3_000,
            at + 10_000
        ));
    }
    sheet.push_str("1000050,,,0.001,,,,,0.75,\n");
    sheet
}

/// Peak and a series of the CLI's resident memory over a 1,000,000-step run.
fn soak(args: &[String]) -> Result {
    let (cli, page) = match args.first().map(String::as_str) {
        None => (true, true),
        Some("--cli") => (true, false),
        Some("--page") => (false, true),
        Some(other) => return Err(format!("soak: unknown option {other}\n{USAGE}")),
    };
    if cli {
        soak_cli()?;
    }
    if page {
        soak_page()?;
    }
    Ok(())
}

/// The page trains 1,000,000 steps in headless Chromium (tests/browser/soak.mjs).
fn soak_page() -> Result {
    browser_script("soak.mjs", "page soak (headless Chromium)")
}

fn soak_cli() -> Result {
    run(
        cargo().args(["build", "--release", "--bin", "color-bottleneck"]),
        "cargo build --release",
    )?;
    let target = target_dir();
    let dir = std::env::temp_dir().join(format!("color-bottleneck-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let sheet = dir.join("million.csv");
    std::fs::write(&sheet, million_step_sheet()).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut child = Command::new(target.join("release").join("color-bottleneck"))
        .args(["train", "--quiet", "--out"])
        .arg(dir.join("out"))
        .arg(&sheet)
        .spawn()
        .map_err(|e| format!("starting the CLI: {e}"))?;
    let status_path = format!("/proc/{}/status", child.id());
    let field = |status: &str, name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    let mut series = Vec::new();
    let mut peak_kb = 0;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            if !status.success() {
                return Err(format!("the soak run failed ({status})"));
            }
            break;
        }
        if let Ok(text) = std::fs::read_to_string(&status_path) {
            peak_kb = peak_kb.max(field(&text, "VmHWM:").unwrap_or(0));
            series.push((
                started.elapsed().as_secs(),
                field(&text, "VmRSS:").unwrap_or(0),
            ));
        }
        std::thread::sleep(std::time::Duration::from_secs(5));
    }
    let losses = std::fs::metadata(dir.join("out").join("losses.csv")).map_or(0, |m| m.len());
    eprintln!(
        "xtask: soak: 1,000,051 steps in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    for (t, kb) in &series {
        eprintln!("  {t:>5} s  RSS {:>6.1} MB", *kb as f64 / 1024.0);
    }
    eprintln!(
        "xtask: soak: peak RSS {:.1} MB (target < 150 MB); losses.csv {:.0} MB, streamed",
        peak_kb as f64 / 1024.0,
        losses as f64 / 1e6
    );
    let _ = std::fs::remove_dir_all(&dir);
    if peak_kb > 150 * 1024 {
        return Err("peak RSS over 150 MB".into());
    }
    Ok(())
}

fn ensure_wasm_target() -> Result {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| format!("rustup is needed to add the {WASM_TARGET} target: {e}"))?;
    if String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim() == WASM_TARGET)
    {
        return Ok(());
    }
    run(
        Command::new("rustup").args(["target", "add", WASM_TARGET]),
        "rustup target add wasm32",
    )
}

/// The wasm-bindgen version Cargo.lock resolved; the generator must be the same.
fn locked_wasm_bindgen() -> Result<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock"))
        .map_err(|e| format!("Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasm-bindgen\"" {
            if let Some(v) = lines.next().and_then(|l| l.strip_prefix("version = \"")) {
                return Ok(v.trim_end_matches('"').to_string());
            }
        }
    }
    Err("Cargo.lock has no wasm-bindgen entry".into())
}

const BINDGEN_VERSION: &str = "0.2.130";

/// The page's two engine builds: each is a cargo profile, features and a folder in `dist/`.
struct WebModule {
    folder: &'static str,
    profile: &'static str,
    features: &'static [&'static str],
    /// The most a visitor's engine download on this module may weigh gzipped ([`gzip_len`], a
    /// little above `gzip -9`): the wasm, its bindings, the element's script and the worker's
    /// ([`ENGINE_SCRIPTS`]), as each file is served. It is their size at `6015107`, the build
    /// before the step had one definition, and `cargo xtask test` holds the download to it.
    /// The whole is held rather than the wasm alone: moving the element's rules from its
    /// script into the module moves bytes from one file to the other.
    download_gzip_ceiling: usize,
}

const WEB_MODULES: [WebModule; 2] = [
    // For every visitor without WebGPU (and `?backend=cpu`): CPU only, optimised for speed.
    WebModule {
        folder: "pkg",
        profile: "web-cpu",
        features: &[],
        download_gzip_ceiling: 348_336,
    },
    // With burn-wgpu: optimised for size (see Cargo.toml's [profile.web]).
    WebModule {
        folder: "pkg-webgpu",
        profile: "web",
        features: &["webgpu"],
        download_gzip_ceiling: 1_444_263,
    },
];

/// `dist/`'s files and each one's gzipped size ([`gzip_len`]), as `build_web` measured them.
struct Site {
    dist: PathBuf,
    gzipped: HashMap<PathBuf, usize>,
}

/// Builds both wasm modules in release mode, generates their JS bindings and assembles `dist/`.
/// `keep_names`: keep function names in the wasm, for profiling (`build-web --profiling`).
fn build_web(keep_names: bool) -> Result<Site> {
    let started = Instant::now();
    let dist = prepare_dist()?;
    for module in WEB_MODULES
        .iter()
        .filter(|m| std::env::var("XTASK_ONLY").map_or(true, |o| o == m.folder))
    {
        build_module(module, &dist, keep_names)?;
    }
    let gzipped = report_sizes(&dist)?;
    eprintln!(
        "xtask: dist/ ready in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(Site { dist, gzipped })
}

/// A fresh `dist/` with the page's files and the sheets, and no engine yet.
fn prepare_dist() -> Result<PathBuf> {
    ensure_wasm_target()?;
    let locked = locked_wasm_bindgen()?;
    if locked != BINDGEN_VERSION {
        return Err(format!(
            "Cargo.lock has wasm-bindgen {locked} but xtask generates bindings with {BINDGEN_VERSION}: \
             set `wasm-bindgen-cli-support = \"={locked}\"` in xtask/Cargo.toml"
        ));
    }
    let dist = root().join("dist");
    let _ = std::fs::remove_dir_all(&dist);
    let www = root().join("www");
    // The scripts are written, not copied; the element's styles and markup go inside its script.
    let written: Vec<&str> = SCRIPTS.iter().copied().chain(["element"]).collect();
    copy_dir(&www, &dist, &written)?;
    write_scripts(&www, &dist)?;
    check_csp_meta(&dist)?;
    let sheets = dist.join("dopesheets");
    copy_dir(&root().join("dopesheets"), &sheets, &[])?;
    write_sheet_index(&sheets)?;
    Ok(dist)
}

/// One engine build: the wasm in release mode and its JS bindings in `dist/<folder>/`.
fn build_module(module: &WebModule, dist: &Path, keep_names: bool) -> Result {
    let target_dir = target_dir();
    let features = module.features.join(",");
    run(
        cargo().args([
            "build",
            "--lib",
            "--profile",
            module.profile,
            "--target",
            WASM_TARGET,
            "--features",
            &features,
        ]),
        &format!("cargo build (wasm32, {} profile)", module.profile),
    )?;
    let wasm = target_dir
        .join(WASM_TARGET)
        .join(module.profile)
        .join("color_bottleneck.wasm");
    // Generated beside, then moved in: a page never loads half a module.
    let staging = dist.join(format!(".{}", module.folder));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(|e| format!("{}: {e}", staging.display()))?;
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&wasm)
        .web(true)
        .map_err(|e| format!("wasm-bindgen: {e}"))?
        .omit_default_module_path(false)
        // Function names only serve stack traces and profiles; they are megabytes of download.
        .remove_name_section(!keep_names)
        .remove_producers_section(true)
        .typescript(false)
        .generate(&staging)
        .map_err(|e| format!("wasm-bindgen: {e}"))?;
    // The bindings carry every export's Rust documentation as comments: a third of their
    // bytes, which no browser reads.
    let glue = staging.join("color_bottleneck.js");
    let source = std::fs::read_to_string(&glue).map_err(|e| format!("{}: {e}", glue.display()))?;
    let name = format!("{}/color_bottleneck.js", module.folder);
    std::fs::write(&glue, page_assets::strip_comments(&source, &name)?)
        .map_err(|e| format!("{}: {e}", glue.display()))?;
    let pkg = dist.join(module.folder);
    let _ = std::fs::remove_dir_all(&pkg);
    std::fs::rename(&staging, &pkg).map_err(|e| format!("{}: {e}", pkg.display()))
}

/// The page's scripts in `www/`.
const SCRIPTS: [&str; 3] = ["color-bottleneck.js", "trainer.js", "bench.js"];

/// The page's scripts as `dist/` serves them (see `page_assets`).
fn write_scripts(www: &Path, dist: &Path) -> Result {
    for name in SCRIPTS {
        let source =
            std::fs::read_to_string(www.join(name)).map_err(|e| format!("www/{name}: {e}"))?;
        let script = if name == "color-bottleneck.js" {
            page_assets::element_script(&source, www)?
        } else {
            page_assets::strip_comments(&source, name)?
        };
        std::fs::write(dist.join(name), script).map_err(|e| format!("dist/{name}: {e}"))?;
    }
    Ok(())
}

/// Copies `from` into `to`, but for the entries of `from` named in `skip`.
fn copy_dir(from: &Path, to: &Path, skip: &[&str]) -> Result {
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    for entry in std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))? {
        let entry = entry.map_err(|e| e.to_string())?;
        if skip.iter().any(|s| entry.file_name() == *s) {
            continue;
        }
        let path = entry.path();
        let dest = to.join(entry.file_name());
        if path.is_dir() {
            copy_dir(&path, &dest, &[])?;
        } else {
            std::fs::copy(&path, &dest).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// Every page in `dist/` must carry [`CSP`] in its `<meta>`, word for word.
fn check_csp_meta(dist: &Path) -> Result {
    let meta = format!(r#"<meta http-equiv="Content-Security-Policy" content="{CSP}">"#);
    for entry in std::fs::read_dir(dist).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|e| e == "html") {
            let html = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
            if !html.contains(&meta) {
                return Err(format!(
                    "{}: the page must carry the policy the server sends: {meta}",
                    path.display()
                ));
            }
        }
    }
    Ok(())
}

/// `dopesheets/index.json`: the sheet names, for the page's picker.
fn write_sheet_index(dir: &Path) -> Result {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".csv"))
        .collect();
    names.sort();
    let json = format!(
        "[{}]\n",
        names
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    std::fs::write(dir.join("index.json"), json).map_err(|e| e.to_string())
}

fn gzip_len(bytes: &[u8]) -> usize {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).expect("in-memory write");
    enc.finish().expect("in-memory write").len()
}

/// What a visitor downloads: the page's files plus one of the two engine builds. Returns each
/// file's gzipped size.
fn report_sizes(dist: &Path) -> Result<HashMap<PathBuf, usize>> {
    let mut files = Vec::new();
    collect_files(dist, &mut files)?;
    let module_of = |f: &Path| {
        WEB_MODULES
            .iter()
            .position(|m| f.starts_with(dist.join(m.folder)))
    };
    let (mut page, mut modules) = ((0, 0), [(0, 0); WEB_MODULES.len()]);
    let mut gzipped = HashMap::new();
    for f in files {
        let bytes = std::fs::read(&f).map_err(|e| e.to_string())?;
        let sizes = (bytes.len(), gzip_len(&bytes));
        let slot = module_of(&f).map_or(&mut page, |i| &mut modules[i]);
        slot.0 += sizes.0;
        slot.1 += sizes.1;
        gzipped.insert(f, sizes.1);
    }
    let mb = |b: usize| b as f64 / 1e6;
    for (m, (raw, gz)) in WEB_MODULES.iter().zip(modules) {
        eprintln!(
            "xtask: a visitor on {}/ downloads {:.2} MB gzipped ({:.2} MB raw, page {:.2} MB gzipped included)",
            m.folder,
            mb(gz + page.1),
            mb(raw + page.0),
            mb(page.1)
        );
    }
    Ok(gzipped)
}

/// What a visitor downloads to run the element besides the module: its script and the
/// worker's, as `dist/` serves them.
const ENGINE_SCRIPTS: [&str; 2] = ["color-bottleneck.js", "trainer.js"];

/// What a first visit downloads on a browser with WebGPU, gzipped: the run starts at once on
/// `pkg/` while `pkg-webgpu/` is timed beside it, so both modules come, with the scripts. Its
/// size at `6015107` (see [`WebModule::download_gzip_ceiling`]).
const BOTH_MODULES_GZIP_CEILING: usize = 1_767_468;

/// Fails where a visitor's download outgrew its ceiling: on either module alone, or on both.
fn check_download_sizes(site: &Site) -> Result {
    let dist = &site.dist;
    let gzipped = |path: PathBuf| -> Result<usize> {
        (site.gzipped.get(&path).copied())
            .ok_or_else(|| format!("{} was not built", path.display()))
    };
    let mut scripts = 0;
    for name in ENGINE_SCRIPTS {
        scripts += gzipped(dist.join(name))?;
    }
    let mut both = scripts;
    let mut paths = Vec::new();
    for m in &WEB_MODULES {
        let wasm = gzipped(dist.join(m.folder).join("color_bottleneck_bg.wasm"))?;
        let glue = gzipped(dist.join(m.folder).join("color_bottleneck.js"))?;
        both += wasm + glue;
        let what = format!(
            "{}/ (wasm {wasm}, bindings {glue}, scripts {scripts})",
            m.folder
        );
        paths.push((what, wasm + glue + scripts, m.download_gzip_ceiling));
    }
    let what = "both modules, a first visit with WebGPU".to_string();
    paths.push((what, both, BOTH_MODULES_GZIP_CEILING));
    for (what, total, ceiling) in paths {
        if total > ceiling {
            return Err(format!(
                "a visitor on {what} downloads {total} bytes gzipped, over the ceiling of \
                 {ceiling} (xtask/src/main.rs): the download may not grow"
            ));
        }
        eprintln!("xtask: a visitor on {what} downloads {total} bytes gzipped, within {ceiling}");
    }
    Ok(())
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result {
    for entry in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

fn serve(args: &[String]) -> Result {
    let port = match args.iter().position(|a| a == "--port") {
        Some(i) => args
            .get(i + 1)
            .and_then(|p| p.parse().ok())
            .ok_or("--port needs a number")?,
        None => DEFAULT_PORT,
    };
    // The CPU engine first (every browser runs it), the page served as soon as it is there;
    // the WebGPU engine is built while the page is up, and a reload picks it up.
    let started = Instant::now();
    let dist = prepare_dist()?;
    let [cpu, webgpu] = &WEB_MODULES;
    build_module(cpu, &dist, false)?;
    let (port, thread) =
        server::spawn(port, dist.clone()).map_err(|e| format!("port {port}: {e}"))?;
    eprintln!(
        "xtask: serving http://127.0.0.1:{port}/ after {:.0} s (CPU engine; building the WebGPU one now, Ctrl-C to stop)",
        started.elapsed().as_secs_f64()
    );
    match build_module(webgpu, &dist, false) {
        Ok(()) => eprintln!("xtask: the WebGPU engine is ready: reload the page to use it"),
        Err(e) => {
            eprintln!("xtask: the WebGPU engine did not build ({e}); the page runs on the CPU")
        }
    }
    report_sizes(&dist)?;
    thread.join().map_err(|_| "the server stopped".to_string())
}

/// Serves `dist` on a background thread; returns the base URL.
fn spawn_server(dist: PathBuf) -> Result<String> {
    let (port, _) = server::spawn(0, dist).map_err(|e| format!("test server: {e}"))?;
    Ok(format!("http://127.0.0.1:{port}"))
}

const CHROMIUM_HINT: &str = "headless Chromium is needed for the browser tests: \
    install Debian's package with `apt-get install -y chromium` (or set CHROMIUM=/path/to/chrome)";

fn chromium() -> Result<String> {
    if let Ok(path) = std::env::var("CHROMIUM") {
        return Ok(path);
    }
    for candidate in [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ] {
        if Path::new(candidate).exists() {
            return Ok(candidate.into());
        }
    }
    Err(CHROMIUM_HINT.into())
}

/// The GPU engine's test needs a Vulkan driver; on Linux without a GPU, Mesa's lavapipe.
fn require_vulkan() -> Result {
    if !cfg!(target_os = "linux") {
        return Ok(());
    }
    let has_driver = ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d"]
        .iter()
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flatten()
        .flatten()
        .any(|entry| entry.path().extension().is_some_and(|e| e == "json"));
    if has_driver {
        Ok(())
    } else {
        Err(
            "the GPU engine's test needs a Vulkan driver: a GPU's, or Mesa's lavapipe on the \
             CPU (`apt-get install -y mesa-vulkan-drivers`)"
                .into(),
        )
    }
}

const NODE_HINT: &str =
    "Node.js and npm are needed for the browser tests: `apt-get install -y nodejs npm`";

fn require_node() -> Result {
    for tool in ["node", "npm"] {
        let found = Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Err(format!("{tool} not found. {NODE_HINT}"));
        }
    }
    Ok(())
}

/// Installs the browser driver (npm `playwright-core`, no browser download) once.
fn ensure_node_modules() -> Result<PathBuf> {
    let dir = root().join("tests").join("browser");
    if dir.join("node_modules").join("playwright-core").exists() {
        return Ok(dir);
    }
    require_node()?;
    run(
        Command::new("npm")
            .current_dir(&dir)
            .args(["ci", "--no-audit", "--no-fund"]),
        "npm ci (tests/browser)",
    )?;
    Ok(dir)
}

fn browser_tests(dist: &Path) -> Result {
    let chromium = chromium()?;
    let dir = ensure_node_modules()?;
    let base = spawn_server(dist.to_path_buf())?;
    let artifacts = root().join("target-artifacts");
    std::fs::create_dir_all(&artifacts).map_err(|e| e.to_string())?;
    let mut node = Command::new("node");
    node.current_dir(&dir)
        .args(["--test", "--test-concurrency=1", "page.test.mjs"])
        .env("BASE_URL", &base)
        .env("CHROMIUM", &chromium)
        .env("ARTIFACTS", &artifacts);
    run(&mut node, "browser tests (headless Chromium)")
}

fn bench_web() -> Result {
    browser_script("bench.mjs", "browser benchmark")
}

/// Builds the site, serves it and runs `script` (in tests/browser) against it in Node.
fn browser_script(script: &str, what: &str) -> Result {
    let dist = build_web(false)?.dist;
    let chromium = chromium()?;
    let dir = ensure_node_modules()?;
    let base = spawn_server(dist)?;
    let mut node = Command::new("node");
    node.current_dir(&dir)
        .arg(script)
        .env("BASE_URL", &base)
        .env("CHROMIUM", &chromium);
    run(&mut node, what)
}
