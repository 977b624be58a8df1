//! Builds the dashboard and embeds it in the binary.
//!
//! The dashboard's sources are `web/` (TypeScript, built by Vite). When the build in `OUT_DIR` is
//! missing or older than any of those sources, this script runs `npm ci` (when `node_modules` is
//! missing or older than the lock file) and `npm run build` into `OUT_DIR`, so a fresh clone with
//! Rust and Node ≥ 20 builds with plain `cargo build`, and nothing the script writes is watched
//! by cargo (no second rebuild). `web/dist` is only for `npm run build` by hand; cargo ignores
//! it. `ASSETLOG_WEB_DIST=<dir>` embeds an already built directory instead and never calls npm.
//!
//! Every file of the build becomes an entry of `$OUT_DIR/web_files.rs`, with its `.br` and `.gz`
//! siblings (written by the Vite build) as precompressed bodies and a content hash as ETag.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

/// What the dashboard build reads; a change to any of it makes `web/dist` stale.
const SOURCES: &[&str] = &[
    "src",
    "public",
    "index.html",
    "package.json",
    "package-lock.json",
    "vite.config.ts",
    "tsconfig.json",
    "tsconfig.build.json",
];

fn main() {
    println!("cargo:rerun-if-env-changed=ASSETLOG_WEB_DIST");
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets this"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets this"));
    let dist = match env::var_os("ASSETLOG_WEB_DIST") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            println!("cargo:rerun-if-changed={}", dir.display());
            if !dir.join("index.html").is_file() {
                fail(&format!(
                    "ASSETLOG_WEB_DIST={} has no index.html: point it at a built dashboard (web/dist after `npm run build`)",
                    dir.display()
                ));
            }
            dir
        }
        None => {
            let web = manifest.join("../../web");
            for source in SOURCES {
                println!("cargo:rerun-if-changed={}", web.join(source).display());
            }
            let dist = out.join("web-dist");
            build_if_stale(&web, &dist);
            dist
        }
    };
    fs::write(out.join("web_files.rs"), table(&dist)).expect("cannot write web_files.rs");
}

/// Stops the build with a message (cargo shows a failed build script's stderr).
fn fail(message: &str) -> ! {
    eprintln!("\nerror: {message}\n");
    std::process::exit(1);
}

/// Newest modification time under `path` (a file or a directory tree).
fn newest(path: &Path) -> Option<SystemTime> {
    let meta = fs::metadata(path).ok()?;
    if meta.is_file() {
        return meta.modified().ok();
    }
    let mut newest = meta.modified().ok();
    for entry in fs::read_dir(path).ok()?.flatten() {
        newest = newest.max(self::newest(&entry.path()));
    }
    newest
}

fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn build_if_stale(web: &Path, dist: &Path) {
    let built = modified(&dist.join("index.html"));
    let sources = SOURCES.iter().filter_map(|s| newest(&web.join(s))).max();
    if built.is_some() && built >= sources {
        return;
    }
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    if Command::new(npm)
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        fail(
            "the dashboard is not built yet (or web/ changed), and building it needs Node.js ≥ 20 \
             with npm on the PATH. Install Node.js (https://nodejs.org), or build web/ elsewhere \
             (`npm ci && npm run build`) and set ASSETLOG_WEB_DIST to its dist directory.",
        );
    }
    let installed = modified(&web.join("node_modules/.package-lock.json"));
    if installed.is_none() || installed < modified(&web.join("package-lock.json")) {
        run(web, npm, &["ci", "--no-audit", "--no-fund"]);
    }
    let out_dir = dist
        .to_str()
        .unwrap_or_else(|| fail("OUT_DIR is not valid UTF-8"));
    run(
        web,
        npm,
        &["run", "build", "--", "--outDir", out_dir, "--emptyOutDir"],
    );
}

fn run(dir: &Path, program: &str, args: &[&str]) {
    eprintln!("building the dashboard: {program} {}", args.join(" "));
    // npm's output goes to stderr: a build script's stdout is for cargo.
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::from(std::io::stderr()))
        .status()
        .unwrap_or_else(|e| fail(&format!("cannot run {program}: {e}")));
    if !status.success() {
        fail(&format!(
            "`{program} {}` in {} failed ({status}); its output is above",
            args.join(" "),
            dir.display()
        ));
    }
}

/// Every file under `dir`, as paths relative to it with `/` separators.
fn files(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", dir.display())))
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if path.is_dir() {
            files(&path, &format!("{prefix}{name}/"), out);
        } else {
            out.push((format!("{prefix}{name}"), path));
        }
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "json" | "map" => "application/json",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "webmanifest" => "application/manifest+json",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// FNV-1a, 64 bits: enough to tell two builds of a file apart for ETags.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn table(dist: &Path) -> String {
    let mut all = Vec::new();
    files(dist, "/", &mut all);
    let mut code = String::from("pub static FILES: &[WebFile] = &[\n");
    for (path, file) in &all {
        if path.ends_with(".br") || path.ends_with(".gz") {
            continue;
        }
        let bytes = fs::read(file)
            .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", file.display())));
        let sibling = |ext: &str| {
            let p = PathBuf::from(format!("{}.{ext}", file.display()));
            if p.is_file() {
                format!("Some(include_bytes!({:?}))", p.display().to_string())
            } else {
                "None".to_owned()
            }
        };
        let _ = writeln!(
            code,
            "    WebFile {{ path: {path:?}, content_type: {:?}, etag: \"{:016x}\", body: include_bytes!({:?}), br: {}, gzip: {} }},",
            content_type(path),
            fnv1a(&bytes),
            file.display().to_string(),
            sibling("br"),
            sibling("gz"),
        );
    }
    code.push_str("];\n");
    code
}
