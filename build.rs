// The wasm's default 1 MiB stack is too small for Burn's autodiff graph walks in an
// optimised-for-size build (it overflows into the heap: "memory access out of bounds").
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg=-zstack-size=16777216");
    }
}
