//! `cargo xtask`: the repository's own tasks (the alias is in `.cargo/config.toml`).
//!
//! `cargo xtask test` is the README's test command and what `.ci/run` calls. On a Debian machine
//! with Rust and Node it sets up what the suite needs and runs all of it:
//! 1. checks Node and npm, and the machine's needs ([`NEEDS`]: Chromium, PostgreSQL, Mosquitto, OpenSSL);
//!    as root it installs what is missing with `apt-get` (and starts the services among them);
//!    otherwise it names what is missing and fails;
//! 2. `npm ci` in `web/` when `node_modules` is missing or older than `package-lock.json`;
//! 3. `cargo test --workspace --locked` (the server on SQLite), then the server's tests again
//!    on PostgreSQL (`ASSETLOG_TEST_DATABASE_URL`, [`TEST_DATABASE`] unless set); both with
//!    `ASSETLOG_TEST_PYTHON`, a venv's Python with aiosmtpd (the real SMTP server of the alert
//!    email tests, from PyPI, pinned, under `~/.cache/assetlog`);
//! 4. in `web/`: `npm run typecheck`, `npm run test:unit`, `npm run test:e2e` (the real binary in
//!    headless Chromium);
//! 5. `.ci/schemathesis`: schemathesis (from PyPI, into a venv under `~/.cache`; needs python3)
//!    against the server (the debug build step 3 made) with its own OpenAPI document: no 5xx, every answer as
//!    documented. Here rather than only in `.ci/run`, so a change that breaks the document fails
//!    the command everyone runs.
//!
//! It stops at the first step that fails, says which, and prints a summary of the steps. Nothing
//! is skipped silently: a missing prerequisite is a failure.
//!
//! # Layout
//! One file: the needs of the suite ([`NEEDS`]), the set-up ([`prepare`]), the steps
//! ([`test`]) and the small helpers they share.

use std::env;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant, SystemTime};

const USAGE: &str = "usage: cargo xtask test

  test   set up what the test suite needs (npm ci; as root, the Debian packages of the browser
         tests), then run all of it: cargo test --workspace, the dashboard's type check, its
         unit tests and its browser tests, then schemathesis against the OpenAPI document";

/// Something the suite needs from the machine besides Rust and Node, and that root can install
/// with `apt-get`. A service's entry has a `start` that brings it up before the tests run.
struct Need {
    /// What it is and which tests use it, for messages.
    what: &'static str,
    /// The Debian package that provides it.
    package: &'static str,
    /// `Ok(true)`: there; `Ok(false)`: missing, the package would provide it; `Err`: missing in a
    /// way installing cannot mend (a setting points elsewhere), with what to do.
    found: fn() -> Result<bool, String>,
    /// For a service: starts it (or checks that it runs), after any install.
    start: Option<fn() -> Result<(), String>>,
}

const NEEDS: &[Need] = &[
    Need {
        what: "Chromium, for the dashboard's browser tests",
        package: "chromium",
        found: chromium_found,
        start: None,
    },
    Need {
        what: "PostgreSQL, for the server's tests on PostgreSQL",
        package: "postgresql",
        found: postgres_found,
        start: Some(start_postgres),
    },
    Need {
        what: "Mosquitto with its dynamic-security plugin, for the server's MQTT tests (they start \
               their own broker on a free port)",
        package: "mosquitto",
        found: mosquitto_found,
        start: None,
    },
    Need {
        what: "OpenSSL's command line, for the test CA of the MQTT-over-TLS test",
        package: "openssl",
        found: || Ok(Path::new("/usr/bin/openssl").exists()),
        start: None,
    },
];

/// The database the server's tests on PostgreSQL start from (they make one database each
/// beside it): the role `assetlog` (password `assetlog`, may create databases) on this machine.
/// `ASSETLOG_TEST_DATABASE_URL` names another.
const TEST_DATABASE: &str = "postgres://assetlog:assetlog@127.0.0.1/assetlog";

/// The URL the tests on PostgreSQL use.
fn test_database() -> String {
    env::var("ASSETLOG_TEST_DATABASE_URL").unwrap_or_else(|_| TEST_DATABASE.to_owned())
}

/// Debian's PostgreSQL: its cluster tools and a server binary.
fn postgres_found() -> Result<bool, String> {
    Ok(Path::new("/usr/bin/pg_ctlcluster").exists()
        && output("pg_lsclusters", &["-h"]).is_some_and(|l| !l.is_empty()))
}

/// Starts the first cluster (as root) and makes the tests' role and database if they are
/// missing; without root, checks that the tests' database answers.
fn start_postgres() -> Result<(), String> {
    let root = output("id", &["-u"]).as_deref() == Some("0");
    if root {
        let clusters = output("pg_lsclusters", &["-h"]).unwrap_or_default();
        let mut first = clusters.split_whitespace();
        let (Some(version), Some(name)) = (first.next(), first.next()) else {
            return Err("no PostgreSQL cluster (pg_lsclusters shows none)".to_owned());
        };
        if !clusters
            .lines()
            .next()
            .unwrap_or_default()
            .contains("online")
        {
            run(
                &format!("pg_ctlcluster {version} {name} start"),
                Path::new("/"),
                &OsString::from("pg_ctlcluster"),
                &[version, name, "start"],
            )?;
        }
        if env::var_os("ASSETLOG_TEST_DATABASE_URL").is_none() {
            let sql = "DO $$ BEGIN
                 IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'assetlog') THEN
                   CREATE ROLE assetlog LOGIN CREATEDB PASSWORD 'assetlog';
                 END IF; END $$;";
            as_postgres(&["-c", sql])?;
            let has_db = output(
                "runuser",
                &[
                    "-u",
                    "postgres",
                    "--",
                    "psql",
                    "-Atc",
                    "SELECT 1 FROM pg_database WHERE datname = 'assetlog'",
                ],
            );
            if has_db.as_deref() != Some("1") {
                as_postgres(&["-c", "CREATE DATABASE assetlog OWNER assetlog"])?;
            }
        }
    }
    let url = test_database();
    match output("psql", &[&url, "-Atc", "SELECT 1"]) {
        Some(_) => Ok(()),
        None => Err(format!(
            "the tests' database {} does not answer: start PostgreSQL and make the role \
             (docs/OPERATIONS.md, \"Tests on PostgreSQL\"), or set ASSETLOG_TEST_DATABASE_URL",
            TEST_DATABASE.replace(":assetlog@", "@")
        )),
    }
}

/// Runs psql as the `postgres` user with `args`.
fn as_postgres(args: &[&str]) -> Result<(), String> {
    let mut all = vec![
        "-u",
        "postgres",
        "--",
        "psql",
        "-v",
        "ON_ERROR_STOP=1",
        "-q",
    ];
    all.extend(args);
    run(
        "psql as postgres",
        Path::new("/"),
        &OsString::from("runuser"),
        &all,
    )
    .map(|_| ())
}

/// Drops the databases earlier runs of the tests on PostgreSQL left (`assetlog_t_*`).
fn drop_test_databases(url: &str) -> Result<String, String> {
    let names = output("psql", &[url, "-Atc", "SELECT datname FROM pg_database WHERE datname LIKE 'assetlog\\_t\\_%' OR datname LIKE 'assetlog\\_u\\_%' OR datname LIKE 'assetlog\\_m\\_%'"])
        .ok_or_else(|| format!("cannot list the databases at {url}"))?;
    let mut dropped = 0;
    for name in names.lines().filter(|n| !n.is_empty()) {
        output(
            "psql",
            &[
                url,
                "-qc",
                &format!("DROP DATABASE \"{name}\" WITH (FORCE)"),
            ],
        )
        .ok_or_else(|| format!("cannot drop {name}"))?;
        dropped += 1;
    }
    Ok(format!("dropped {dropped} databases of earlier runs"))
}

/// Where the browser tests look for Chromium (`web/e2e/global-setup.ts`): `CHROMIUM_PATH`, else
/// Debian's `/usr/bin/chromium`.
/// The broker, `mosquitto_ctrl` and the plugin, where Debian puts them (the tests look there
/// too, or at `ASSETLOG_TEST_MOSQUITTO_PLUGIN`).
fn mosquitto_found() -> Result<bool, String> {
    let plugin = match env::var_os("ASSETLOG_TEST_MOSQUITTO_PLUGIN") {
        Some(path) if Path::new(&path).exists() => true,
        Some(path) => {
            return Err(format!(
                "ASSETLOG_TEST_MOSQUITTO_PLUGIN={} does not exist: point it at \
                 mosquitto_dynamic_security.so, or unset it to use Debian's",
                Path::new(&path).display()
            ));
        }
        None => [
            "/usr/lib/x86_64-linux-gnu",
            "/usr/lib/aarch64-linux-gnu",
            "/usr/lib",
        ]
        .iter()
        .any(|dir| {
            Path::new(dir)
                .join("mosquitto_dynamic_security.so")
                .exists()
        }),
    };
    Ok(plugin
        && Path::new("/usr/sbin/mosquitto").exists()
        && Path::new("/usr/bin/mosquitto_ctrl").exists())
}

fn chromium_found() -> Result<bool, String> {
    match env::var_os("CHROMIUM_PATH") {
        Some(path) if Path::new(&path).exists() => Ok(true),
        Some(path) => Err(format!(
            "CHROMIUM_PATH={} does not exist: point it at a Chromium binary, or unset it to use /usr/bin/chromium",
            Path::new(&path).display()
        )),
        None => Ok(Path::new("/usr/bin/chromium").exists()),
    }
}

fn main() -> ExitCode {
    let mut args = env::args().skip(1);
    match (args.next().as_deref(), args.next()) {
        (Some("test"), None) if test(&repo()) => ExitCode::SUCCESS,
        (Some("test"), None) => ExitCode::FAILURE,
        (Some("help" | "-h" | "--help"), None) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// The repository root: this crate is `crates/xtask`.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One step of the run, as the summary shows it.
struct Done {
    step: String,
    outcome: String,
    took: Duration,
}

/// Runs the whole suite; `false` when a step failed (the summary says which).
fn test(repo: &Path) -> bool {
    let web = repo.join("web");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let npm = OsString::from("npm");
    let mut done: Vec<Done> = Vec::new();

    let started = Instant::now();
    let prepared = prepare(&web);
    let outcome = match &prepared {
        Ok(did) => did.clone(),
        Err(problems) => {
            eprintln!("\ncargo xtask test: cannot set up what the test suite needs:");
            for problem in problems {
                eprintln!("  - {problem}");
            }
            "FAILED".to_owned()
        }
    };
    done.push(Done {
        step: "set-up".to_owned(),
        outcome,
        took: started.elapsed(),
    });
    if prepared.is_err() {
        summary(&done, Some("set-up"));
        return false;
    }

    let started = Instant::now();
    let python = match smtp_python() {
        Ok(python) => python,
        Err(why) => {
            eprintln!("\ncargo xtask test: cannot set up the SMTP server of the tests: {why}");
            done.push(Done {
                step: "aiosmtpd".to_owned(),
                outcome: "FAILED".to_owned(),
                took: started.elapsed(),
            });
            summary(&done, Some("aiosmtpd"));
            return false;
        }
    };
    let bash = OsString::from("bash");
    let url = test_database();
    let steps: [(&str, &Path, &OsString, &[&str]); 6] = [
        (
            "cargo test --workspace --locked",
            repo,
            &cargo,
            &["test", "--workspace", "--locked"],
        ),
        (
            "cargo test -p assetlog-server --locked, on PostgreSQL",
            repo,
            &cargo,
            &["test", "-p", "assetlog-server", "--locked"],
        ),
        ("npm run typecheck", &web, &npm, &["run", "typecheck"]),
        ("npm run test:unit", &web, &npm, &["run", "test:unit"]),
        ("npm run test:e2e", &web, &npm, &["run", "test:e2e"]),
        (
            "schemathesis (.ci/schemathesis)",
            repo,
            &bash,
            &[".ci/schemathesis"],
        ),
    ];
    for (step, dir, program, args) in steps {
        let started = Instant::now();
        let result = if step.ends_with("on PostgreSQL") {
            drop_test_databases(&url).and_then(|dropped| {
                println!("{dropped}");
                run_with(
                    step,
                    dir,
                    program,
                    args,
                    &[
                        ("ASSETLOG_TEST_DATABASE_URL", &url),
                        ("ASSETLOG_TEST_PYTHON", &python),
                    ],
                )
            })
        } else {
            run_with(
                step,
                dir,
                program,
                args,
                &[("ASSETLOG_TEST_PYTHON", &python)],
            )
        };
        let failed = result.is_err();
        done.push(Done {
            step: step.to_owned(),
            outcome: result.unwrap_or_else(|why| format!("FAILED ({why})")),
            took: started.elapsed(),
        });
        if failed {
            summary(&done, Some(step));
            return false;
        }
    }
    summary(&done, None);
    true
}

/// Checks Node, npm and [`NEEDS`]; as root installs and starts what is missing; runs `npm ci`
/// when `node_modules` is stale. Answers what it did, or every problem it found.
fn prepare(web: &Path) -> Result<String, Vec<String>> {
    banner("set-up: Node, npm and the Debian packages the tests use");
    let mut problems = Vec::new();
    match output("node", &["--version"]) {
        Some(version) => {
            let wanted = node_engine(web);
            println!(
                "node {version} (web/package.json wants {})",
                wanted.as_deref().unwrap_or("any")
            );
            if let Some(wanted) = wanted
                && !version_satisfies(&version, &wanted)
            {
                problems.push(format!(
                    "Node.js {wanted} (this is {version}): https://nodejs.org"
                ));
            }
        }
        None => problems.push("Node.js ≥ 20 with npm, on the PATH: https://nodejs.org".to_owned()),
    }
    if output("npm", &["--version"]).is_none() {
        problems.push("npm, on the PATH (it comes with Node.js)".to_owned());
    }

    let mut missing = Vec::new();
    for need in NEEDS {
        match (need.found)() {
            Ok(true) => println!("found: {}", need.what),
            Ok(false) => missing.push(need),
            Err(why) => problems.push(format!("{}: {why}", need.what)),
        }
    }
    let root = output("id", &["-u"]).as_deref() == Some("0");
    if !missing.is_empty() && !root {
        for need in &missing {
            problems.push(format!(
                "{} (as root: apt-get install -y {})",
                need.what, need.package
            ));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    let mut did = Vec::new();
    if !missing.is_empty() {
        let packages: Vec<&str> = missing.iter().map(|n| n.package).collect();
        let apt = OsString::from("apt-get");
        let mut install = vec!["install", "-y"];
        install.extend(&packages);
        // Once, and only when something is to be installed: a fresh image has no package lists.
        run("apt-get update", Path::new("/"), &apt, &["update"])
            .and_then(|_| {
                run(
                    &format!("apt-get install -y {}", packages.join(" ")),
                    Path::new("/"),
                    &apt,
                    &install,
                )
            })
            .map_err(|why| vec![format!("installing {}: {why}", packages.join(", "))])?;
        for need in &missing {
            if (need.found)() != Ok(true) {
                return Err(vec![format!(
                    "{}: still missing after apt-get install {}",
                    need.what, need.package
                )]);
            }
        }
        did.push(format!("installed {}", packages.join(", ")));
    }
    for need in NEEDS {
        if let Some(start) = need.start {
            start().map_err(|why| vec![format!("starting {}: {why}", need.what)])?;
            did.push(format!("started {}", need.package));
        }
    }

    if npm_ci_needed(web) {
        run(
            "npm ci",
            web,
            &OsString::from("npm"),
            &["ci", "--no-audit", "--no-fund"],
        )
        .map_err(|why| vec![format!("npm ci in web/: {why}")])?;
        did.push("npm ci".to_owned());
    } else {
        println!("web/node_modules is up to date with web/package-lock.json: no npm ci");
    }
    Ok(if did.is_empty() {
        "ok, all there".to_owned()
    } else {
        format!("ok, {}", did.join(", "))
    })
}

/// The aiosmtpd the alert email tests start, pinned.
const AIOSMTPD: &str = "aiosmtpd==1.4.6";

/// A Python with aiosmtpd: a venv under `~/.cache/assetlog` (`ASSETLOG_SMTP_VENV` to put it
/// elsewhere), made and filled from PyPI when it is missing.
fn smtp_python() -> Result<String, String> {
    let venv = env::var_os("ASSETLOG_SMTP_VENV")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/assetlog/smtp-venv")))
        .ok_or("neither ASSETLOG_SMTP_VENV nor HOME is set")?;
    let python = venv.join("bin/python");
    let python_s = python.to_string_lossy().into_owned();
    let ready = || output(&python_s, &["-c", "import aiosmtpd"]).is_some();
    if !ready() {
        banner(&format!("set-up: {AIOSMTPD} into {}", venv.display()));
        let venv_s = venv.to_string_lossy().into_owned();
        run(
            "python3 -m venv",
            Path::new("/"),
            &OsString::from("python3"),
            &["-m", "venv", &venv_s],
        )?;
        run(
            "pip install aiosmtpd",
            Path::new("/"),
            &OsString::from(&python_s),
            &["-m", "pip", "install", "--quiet", AIOSMTPD],
        )?;
        if !ready() {
            return Err(format!("{python_s} still cannot import aiosmtpd"));
        }
    }
    println!(
        "SMTP server for the tests: {AIOSMTPD} in {}",
        venv.display()
    );
    Ok(python_s)
}

/// `npm ci` is due when `node_modules` is missing or older than the lock file (npm writes
/// `node_modules/.package-lock.json` on every install), as the server's build script decides.
fn npm_ci_needed(web: &Path) -> bool {
    let modified = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
    stale(
        modified(&web.join("node_modules/.package-lock.json")),
        modified(&web.join("package-lock.json")),
    )
}

fn stale(installed: Option<SystemTime>, lock: Option<SystemTime>) -> bool {
    installed.is_none() || installed < lock
}

/// The `engines.node` range of `web/package.json` (`>=20.19`), found by hand: xtask has no
/// dependencies, and the file is ours.
fn node_engine(web: &Path) -> Option<String> {
    let text = fs::read_to_string(web.join("package.json")).ok()?;
    let engines = &text[text.find("\"engines\"")?..];
    let node = &engines[engines.find("\"node\"")? + "\"node\"".len()..];
    let value = node
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    Some(value[..value.find('"')?].to_owned())
}

/// Whether `version` (`v20.20.2`) satisfies `wanted`, a `>=major[.minor[.patch]]` range. Any
/// other form of range is not judged here (npm itself warns about it).
fn version_satisfies(version: &str, wanted: &str) -> bool {
    let numbers = |s: &str| -> Option<Vec<u64>> {
        s.trim()
            .trim_start_matches('v')
            .split('.')
            .map(|n| n.parse().ok())
            .collect()
    };
    match (
        numbers(version),
        wanted.strip_prefix(">=").and_then(numbers),
    ) {
        (Some(have), Some(want)) => have >= want,
        _ => true,
    }
}

/// Runs `program args` in `dir` with its output on ours; answers `ok` or why it failed.
/// (`DEBIAN_FRONTEND` keeps apt-get from asking questions; the other commands ignore it.)
fn run(step: &str, dir: &Path, program: &OsString, args: &[&str]) -> Result<String, String> {
    run_with(step, dir, program, args, &[])
}

/// [`run`] with more environment.
fn run_with(
    step: &str,
    dir: &Path,
    program: &OsString,
    args: &[&str],
    envs: &[(&str, &str)],
) -> Result<String, String> {
    banner(step);
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .envs(envs.iter().copied())
        .status()
        .map_err(|e| format!("cannot run {}: {e}", program.to_string_lossy()))?;
    if status.success() {
        Ok("ok".to_owned())
    } else {
        Err(status.to_string())
    }
}

/// The trimmed standard output of a command that succeeded; `None` when it is not there or failed.
fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn banner(step: &str) {
    println!("\n== cargo xtask test: {step} ==");
}

/// Prints what ran and how it ended; `failed` names the step that stopped the run.
fn summary(done: &[Done], failed: Option<&str>) {
    let mut text = String::from("\n== cargo xtask test: summary ==\n");
    for d in done {
        let _ = writeln!(
            text,
            "  {:<34} {:>7}  {}",
            d.step,
            format!("{:.0?}", d.took),
            d.outcome
        );
    }
    match failed {
        Some(step) => {
            let _ = writeln!(
                text,
                "FAILED at `{step}` (its output is above); the steps after it did not run."
            );
            eprint!("{text}");
        }
        None => {
            let _ = writeln!(text, "All {} steps passed.", done.len());
            print!("{text}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_versions_against_the_engines_range() {
        assert!(version_satisfies("v20.19.0", ">=20.19"));
        assert!(version_satisfies("v20.20.2", ">=20.19"));
        assert!(version_satisfies("v22.1.0", ">=20.19"));
        assert!(!version_satisfies("v20.18.9", ">=20.19"));
        assert!(!version_satisfies("v18.19.0", ">=20.19"));
        // A range this does not read is left to npm.
        assert!(version_satisfies("v18.0.0", "^20"));
    }

    #[test]
    fn npm_ci_when_node_modules_is_missing_or_older_than_the_lock() {
        let t = SystemTime::UNIX_EPOCH;
        let later = t + Duration::from_secs(1);
        assert!(stale(None, Some(t)));
        assert!(stale(Some(t), Some(later)));
        assert!(!stale(Some(later), Some(t)));
        assert!(!stale(Some(t), Some(t)));
    }

    #[test]
    fn reads_the_node_engine_of_our_package_json() {
        let wanted = node_engine(&repo().join("web")).expect("web/package.json names engines.node");
        assert!(
            wanted.starts_with(">="),
            "{wanted}: version_satisfies reads only >= ranges"
        );
    }
}
