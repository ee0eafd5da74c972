//! `cargo xtask gpu-kit`: what a lent GPU machine needs to time the GPU targets, in
//! `.gpu-kit/`. That machine has no Rust toolchain and reaches no registry, so the kit holds
//! the timing program built here (`examples/backend_race.rs`, stripped and gzipped to fit the
//! 64 MiB a call may carry), the Vulkan loader's Debian package, and the script that runs it
//! (`xtask/gpu-check.sh`).

use std::io::Write;
use std::process::Command;

use crate::{cargo, root, run, target_dir, Result};

const KIT: &str = ".gpu-kit";

pub fn gpu_kit() -> Result {
    run(
        cargo().args([
            "build",
            "--release",
            "--features",
            "wgpu",
            "--example",
            "backend_race",
        ]),
        "cargo build --release --features wgpu --example backend_race",
    )?;
    let kit = root().join(KIT);
    let _ = std::fs::remove_dir_all(&kit);
    let debs = kit.join("debs");
    std::fs::create_dir_all(&debs).map_err(|e| format!("creating {}: {e}", debs.display()))?;

    let built = target_dir().join("release/examples/backend_race");
    let stripped = kit.join("backend_race");
    std::fs::copy(&built, &stripped).map_err(|e| format!("copying {}: {e}", built.display()))?;
    run(Command::new("strip").arg(&stripped), "strip")
        .map_err(|e| format!("{e} (strip is binutils': `apt-get install -y binutils`)"))?;
    let bytes = std::fs::read(&stripped).map_err(|e| e.to_string())?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&bytes).map_err(|e| e.to_string())?;
    let packed = gz.finish().map_err(|e| e.to_string())?;
    std::fs::write(kit.join("backend_race.gz"), &packed).map_err(|e| e.to_string())?;
    std::fs::remove_file(&stripped).map_err(|e| e.to_string())?;

    // The machine is x86-64 whatever this one is; apt's lists for that architecture go to a
    // folder of their own.
    let lists = std::env::temp_dir().join("gpu-kit-apt-lists");
    std::fs::create_dir_all(lists.join("partial")).map_err(|e| e.to_string())?;
    let apt = |what: &[&str]| {
        let mut c = Command::new("apt-get");
        c.args([
            "-oAPT::Architecture=amd64",
            "-oAPT::Architectures=amd64",
            &format!("-oDir::State::Lists={}", lists.display()),
        ])
        .args(what)
        .current_dir(&debs);
        c
    };
    let hint = |e: String| format!("{e} (Debian's apt-get, with the network and as root)");
    run(&mut apt(&["-qq", "update"]), "apt-get update (amd64)").map_err(hint)?;
    run(
        &mut apt(&["-qq", "download", "libvulkan1"]),
        "apt-get download libvulkan1",
    )
    .map_err(hint)?;

    let script = root().join("xtask/gpu-check.sh");
    std::fs::copy(&script, kit.join("run.sh"))
        .map_err(|e| format!("copying {}: {e}", script.display()))?;
    println!(
        "xtask: {KIT}/ ready ({:.1} MB). On a lent GPU machine: run the command \
         `bash {KIT}/run.sh 90` with carry [\"{KIT}\"] and timeout_s 540.",
        dir_size(&kit) as f64 / 1e6
    );
    Ok(())
}

fn dir_size(dir: &std::path::Path) -> u64 {
    let mut files = Vec::new();
    crate::collect_files(dir, &mut files).ok();
    files
        .iter()
        .filter_map(|f| f.metadata().ok())
        .map(|m| m.len())
        .sum()
}
