//! `assetlog`: parse the command line, build the app, run it.

use std::io::Read;
use std::process::ExitCode;

use assetlog_server::Application;
use assetlog_server::config::{
    BackupArgs, CheckArgs, Cli, Command, MigrateArgs, RoleArg, UserAdd, UserCommand,
};
use assetlog_server::domain::{Email, Password};
use assetlog_server::store::{Role, Store};
use clap::Parser;

/// mimalloc gives freed memory back to the system; glibc's allocator kept what a flood of
/// password checks had used (docs/SECURITY.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_arena_eager_commit` (its place in `mi_option_e` of mimalloc.h, v3;
/// the Rust binding does not name it). On Linux it defaults to committing a whole arena at
/// once, and then memory a burst freed stays resident: 42–45 MB after a sign-in flood instead of
/// 29–33 MB, the same ingest speed either way (docs/SECURITY.md).
const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

/// Run by the loader before `main` and before anything allocates: the first arena is reserved
/// with the first allocation, so an option set in `main` would come too late.
#[used]
#[unsafe(link_section = ".init_array")]
static ALLOCATOR_OPTIONS: extern "C" fn() = allocator_options;

extern "C" fn allocator_options() {
    // SAFETY: sets an option's value, which mimalloc allows at any time and from any thread.
    unsafe { libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0) };
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return fail(anyhow::anyhow!("cannot start the runtime: {e}")),
    };
    match &cli.command {
        Command::Check(args) => return check(args),
        Command::Backup(args) => return backup(args),
        _ => {}
    }
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(config) => serve(*config).await,
            Command::Demo(args) => assetlog_server::demo::run(args, shutdown_signal()).await,
            Command::MigrateToPostgres(args) => migrate_to_postgres(args).await,
            Command::Check(_) | Command::Backup(_) => unreachable!("answered above"),
            Command::User {
                command: UserCommand::Add(args),
            } => add_user(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn fail(e: anyhow::Error) -> ExitCode {
    eprintln!("error: {e:#}");
    ExitCode::FAILURE
}

async fn serve(config: assetlog_server::config::ServeConfig) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    println!("listening on {}", app.url());
    app.run_until(shutdown_signal()).await
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// `assetlog check`: the full integrity check, its findings on standard output.
fn check(args: &CheckArgs) -> ExitCode {
    let path = assetlog_server::startup::database_path(&args.data_dir);
    let started = std::time::Instant::now();
    match assetlog_server::store::check_integrity(&path) {
        Ok(found) if found.problems.is_empty() => {
            println!(
                "{}: ok ({} pages checked in {:.1?})",
                path.display(),
                found.pages,
                started.elapsed()
            );
            ExitCode::SUCCESS
        }
        Ok(found) => {
            println!(
                "{}: damaged, {} problem(s):",
                path.display(),
                found.problems.len()
            );
            for problem in &found.problems {
                println!("  {problem}");
            }
            println!("restore it from a backup; the server refuses to start on a damaged header");
            ExitCode::FAILURE
        }
        Err(e) => fail(e),
    }
}

/// `assetlog migrate-to-postgres`: the copy, then its summary on standard output.
async fn migrate_to_postgres(args: MigrateArgs) -> anyhow::Result<()> {
    let path = assetlog_server::startup::database_path(&args.data_dir);
    let summary = assetlog_server::store::migrate_pg::migrate(&path, &args.database_url).await?;
    println!(
        "copied {} into {}:",
        path.display(),
        assetlog_server::store::postgres::redact(&args.database_url)
    );
    println!("{summary}");
    Ok(())
}

/// `assetlog backup`: the online copy, its size and how long it took on standard output.
fn backup(args: &BackupArgs) -> ExitCode {
    let path = assetlog_server::startup::database_path(&args.data_dir);
    let started = std::time::Instant::now();
    match assetlog_server::store::backup(&path, &args.to) {
        Ok(made) => {
            println!(
                "{} -> {}: {:.1} MB in {:.1} s",
                path.display(),
                args.to.display(),
                made.bytes as f64 / 1e6,
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

async fn add_user(args: UserAdd) -> anyhow::Result<()> {
    let email = Email::parse(&args.email)?.into_string();
    let mut password = String::new();
    std::io::stdin().read_to_string(&mut password)?;
    let password = Password::parse(
        password.trim_end_matches(['\n', '\r']),
        &[email.as_str(), args.tenant.as_str()],
    )?;
    let role = match args.role {
        RoleArg::Admin => Role::Admin,
        RoleArg::Operator => Role::Operator,
        RoleArg::Viewer => Role::Viewer,
    };
    let store = match &args.database_url {
        Some(url) => Store::connect(url, Default::default()).await?,
        None => assetlog_server::startup::open_store(&args.data_dir)?,
    };
    let hash = assetlog_server::secrets::hash_password(password.expose())?;
    let (user, tenant) = store
        .add_user_to_named_tenant(args.tenant.clone(), email, hash, role)
        .await?;
    store.close().await;
    println!(
        "added {} ({}) to tenant {} (id {})",
        user.email,
        role.as_str(),
        tenant.name,
        tenant.id
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use libmimalloc_sys::mi_option_get;

    #[test]
    fn the_allocator_commits_arenas_as_they_are_used() {
        // SAFETY: reads of options.
        let option = |n| unsafe { mi_option_get(n) };
        // Set before this test ran.
        assert_eq!(option(super::ARENA_EAGER_COMMIT), 0);
        // Its neighbours keep their defaults (mimalloc's options.c): had mimalloc renumbered its
        // options, `ARENA_EAGER_COMMIT` would name another one and these would differ.
        assert_eq!(
            (option(3), option(5), option(15)),
            (1, 1, 1000),
            "mimalloc's options moved"
        );
    }
}
