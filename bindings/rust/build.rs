//! Finds libmodctx for linking, in this order:
//!
//! 1. `MODCTX_LIB_DIR`: a folder holding `libmodctx.so` (e.g. a build tree's
//!    `build/capi`). A relative path is taken from this crate's folder.
//! 2. The `pkg-config` program: `pkg-config --libs modctx` (an installed
//!    modctx, or `PKG_CONFIG_PATH` pointing at one). `PKG_CONFIG` names
//!    another pkg-config program.
//!
//! Every library folder found goes into the run path of this crate's tests,
//! examples and binaries (`-Wl,-rpath,DIR`), so `cargo test` runs against the
//! library it linked. Crates depending on this one get the folder as
//! `DEP_MODCTX_LIB_DIR` (the `links` key).
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn link_dir(dir: &Path) {
    println!("cargo:rustc-link-search=native={}", dir.display());
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    for var in ["MODCTX_LIB_DIR", "PKG_CONFIG", "PKG_CONFIG_PATH", "PKG_CONFIG_LIBDIR", "PKG_CONFIG_SYSROOT_DIR"] {
        println!("cargo:rerun-if-env-changed={}", var);
    }

    if let Some(dir) = env::var_os("MODCTX_LIB_DIR").filter(|d| !d.is_empty()) {
        let given = PathBuf::from(&dir);
        let dir = match given.canonicalize() {
            Ok(d) => d,
            Err(e) => panic!(
                "modctx: MODCTX_LIB_DIR={} is not a folder ({}); a relative path is taken from {}, so give an absolute one",
                given.display(),
                e,
                env::current_dir().map(|d| d.display().to_string()).unwrap_or_default()
            ),
        };
        if !dir.join("libmodctx.so").exists() {
            panic!(
                "modctx: MODCTX_LIB_DIR={} holds no libmodctx.so (build it: meson setup build && ninja -C build)",
                dir.display()
            );
        }
        link_dir(&dir);
        println!("cargo:rustc-link-lib=dylib=modctx");
        println!("cargo:lib_dir={}", dir.display());
        return;
    }

    let program = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".to_string());
    let output = match Command::new(&program).args(["--libs", "modctx"]).output() {
        Ok(o) => o,
        Err(e) => panic!(
            "modctx: cannot run `{} --libs modctx` ({}). Set MODCTX_LIB_DIR to the folder holding \
             libmodctx.so (e.g. MODCTX_LIB_DIR=$PWD/build/capi), or install pkg-config and modctx.",
            program, e
        ),
    };
    if !output.status.success() {
        panic!(
            "modctx: `{} --libs modctx` failed: {}\nSet MODCTX_LIB_DIR to the folder holding libmodctx.so \
             (e.g. MODCTX_LIB_DIR=$PWD/build/capi), or PKG_CONFIG_PATH to the folder of an installed modctx.pc.",
            program,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let libs = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut linked = false;
    let mut first_dir = None;
    for token in libs.split_whitespace() {
        if let Some(dir) = token.strip_prefix("-L") {
            link_dir(Path::new(dir));
            first_dir.get_or_insert_with(|| dir.to_string());
        } else if let Some(name) = token.strip_prefix("-l") {
            println!("cargo:rustc-link-lib=dylib={}", name);
            linked |= name == "modctx";
        } else {
            println!("cargo:rustc-link-arg={}", token);
        }
    }
    if !linked {
        println!("cargo:rustc-link-lib=dylib=modctx");
    }
    if let Some(dir) = first_dir {
        println!("cargo:lib_dir={}", dir);
    }
}
