//! A PostgreSQL primary and its streaming replica of a test's own: `initdb` a cluster on a
//! free port, `pg_basebackup -R -X stream` a hot standby of it on another, start both. Both
//! are stopped and their folders removed on `Drop` (a failing test unwinds through it); a
//! pair left by a killed run is swept by the next one. Made for speed: no fsync, small
//! buffers, the PostgreSQL 15 binaries run as the `postgres` OS user when we are root.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, SystemTime},
};

use sqlx::{Connection, PgConnection};

const BIN: &str = "/usr/lib/postgresql/15/bin";
/// Every pair's folder is `<temp>/quire-pgpair-<random>`.
const PREFIX: &str = "quire-pgpair-";

pub struct PgPair {
    dir: PathBuf,
    pub primary_port: u16,
    pub replica_port: u16,
}

impl PgPair {
    /// Both servers running, the replica streaming from the primary.
    pub async fn start() -> Self {
        tokio::task::spawn_blocking(Self::start_blocking)
            .await
            .expect("pgpair start")
    }

    fn start_blocking() -> Self {
        sweep_leftovers();
        let dir = std::env::temp_dir().join(format!(
            "{PREFIX}{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        ));
        std::fs::create_dir(&dir).expect("pgpair folder");
        let pair = Self {
            primary_port: free_port(),
            replica_port: free_port(),
            dir,
        };
        chown_to_postgres(&pair.dir);
        let primary = pair.primary_dir();
        run(as_postgres(&format!("{BIN}/initdb")).args([
            "-D",
            path(&primary),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "--no-instructions",
        ]));
        let conf = format!(
            "fsync = off\nfull_page_writes = off\nshared_buffers = 16MB\nwal_level = replica\n\
             max_wal_senders = 4\nhot_standby = on\nlisten_addresses = '127.0.0.1'\n\
             port = {}\nunix_socket_directories = '{}'\nlog_min_messages = warning\n",
            pair.primary_port,
            pair.dir.display()
        );
        append(&primary.join("postgresql.conf"), &conf);
        pg_ctl(&pair.dir, &primary, &["start", "-w", "-t", "30"]);
        let replica = pair.replica_dir();
        run(as_postgres(&format!("{BIN}/pg_basebackup")).args([
            "-h",
            "127.0.0.1",
            "-p",
            &pair.primary_port.to_string(),
            "-U",
            "postgres",
            "-D",
            path(&replica),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
        ]));
        append(
            &replica.join("postgresql.auto.conf"),
            &format!("port = {}\n", pair.replica_port),
        );
        start_replica(&pair.dir);
        pair
    }

    fn primary_dir(&self) -> PathBuf {
        self.dir.join("primary")
    }

    fn replica_dir(&self) -> PathBuf {
        self.dir.join("replica")
    }

    /// The URL of database `postgres` on the primary (the harness names the test's own).
    pub fn primary_url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
            self.primary_port
        )
    }

    pub fn replica_url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
            self.replica_port
        )
    }

    /// A connection to the replica, for `pg_wal_replay_pause()` and the like.
    pub async fn replica(&self) -> PgConnection {
        PgConnection::connect(&self.replica_url())
            .await
            .expect("connect to the replica")
    }

    /// Stop replaying WAL (the replica keeps receiving it): it falls behind.
    pub async fn pause_replay(&self) {
        sqlx::query("SELECT pg_wal_replay_pause()")
            .execute(&mut self.replica().await)
            .await
            .expect("pause replay");
    }

    pub async fn resume_replay(&self) {
        sqlx::query("SELECT pg_wal_replay_resume()")
            .execute(&mut self.replica().await)
            .await
            .expect("resume replay");
    }

    /// Kill the replica as a crash would (`pg_ctl stop -m immediate`).
    pub async fn stop_replica(&self) {
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || {
            pg_ctl(&dir, &dir.join("replica"), &["stop", "-m", "immediate"]);
        })
        .await
        .expect("stop the replica");
    }

    pub async fn start_replica(&self) {
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || start_replica(&dir))
            .await
            .expect("start the replica");
    }
}

impl Drop for PgPair {
    fn drop(&mut self) {
        stop_and_remove(&self.dir);
    }
}

/// `pg_ctl` on the cluster at `data`, logging to `<dir>/<primary|replica>.log`.
fn pg_ctl(dir: &Path, data: &Path, args: &[&str]) {
    let log = dir.join(format!(
        "{}.log",
        data.file_name().and_then(|n| n.to_str()).unwrap_or("pg")
    ));
    run(as_postgres(&format!("{BIN}/pg_ctl"))
        .args(["-D", path(data), "-l", path(&log)])
        .args(args));
}

fn start_replica(dir: &Path) {
    pg_ctl(dir, &dir.join("replica"), &["start", "-w", "-t", "30"]);
}

/// Stop whatever runs in the pair at `dir` and remove it.
fn stop_and_remove(dir: &Path) {
    for data in [dir.join("replica"), dir.join("primary")] {
        if data.join("postmaster.pid").exists() {
            let _ = as_postgres(&format!("{BIN}/pg_ctl"))
                .args(["-D", path(&data), "stop", "-m", "immediate"])
                .output();
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Pairs more than an hour old: what a killed run left behind.
fn sweep_leftovers() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age > Duration::from_secs(3600));
        if old && entry.file_name().to_string_lossy().starts_with(PREFIX) {
            stop_and_remove(&entry.path());
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// `program` as the `postgres` OS user (PostgreSQL refuses to run as root).
fn as_postgres(program: &str) -> Command {
    if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--", program]);
        cmd
    } else {
        Command::new(program)
    }
}

fn chown_to_postgres(dir: &Path) {
    if is_root() {
        run(Command::new("chown").args(["postgres:", path(dir)]));
    }
}

/// Append `text` to the file at `file` (owned by postgres; we may be root, or postgres).
fn append(file: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(file)
        .expect("open a config file");
    f.write_all(text.as_bytes())
        .expect("append to a config file");
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run a PostgreSQL program");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
