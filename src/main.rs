#[cfg(not(target_family = "wasm"))]
fn main() -> std::process::ExitCode {
    color_bottleneck::cli::main()
}

#[cfg(target_family = "wasm")]
fn main() {}
