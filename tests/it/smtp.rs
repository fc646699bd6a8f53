//! A real SMTP server for the email tests: aiosmtpd (PyPI, installed by `scripts/test.sh`)
//! running `tests/smtp/sink.py`, which writes each message it accepts to a folder as JSON.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde::Deserialize;

pub struct SmtpSink {
    pub port: u16,
    dir: PathBuf,
    child: Child,
}

/// One message as the server received it.
#[derive(Debug, Clone, Deserialize)]
pub struct Mail {
    pub rcpt_tos: Vec<String>,
    pub headers: Vec<(String, String)>,
    pub subject: String,
    pub text: Option<String>,
    pub html: Option<String>,
}

impl Mail {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> &str {
        self.text.as_deref().unwrap_or_default()
    }

    /// The first link in the text part that starts with `prefix`.
    pub fn link(&self, prefix: &str) -> String {
        self.text()
            .split_whitespace()
            .find(|w| w.starts_with(prefix))
            .unwrap_or_else(|| panic!("no link to {prefix} in:\n{}", self.text()))
            .to_owned()
    }
}

impl SmtpSink {
    pub async fn start() -> Self {
        let root = env!("CARGO_MANIFEST_DIR");
        let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| format!("{root}/target"));
        let python = format!("{target}/aiosmtpd/bin/python");
        assert!(
            std::path::Path::new(&python).exists(),
            "run `bash scripts/test.sh` once: it installs aiosmtpd"
        );
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            probe.local_addr().expect("addr").port()
        };
        let dir = std::env::temp_dir().join(format!("quire-smtp-{}", uuid::Uuid::new_v4()));
        let mut child = Command::new(python)
            .arg(format!("{root}/tests/smtp/sink.py"))
            .arg(&dir)
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the SMTP sink starts");
        let stdout = child.stdout.take().expect("stdout");
        let ready = tokio::task::spawn_blocking(move || {
            BufReader::new(stdout).lines().next().and_then(Result::ok)
        });
        let line = tokio::time::timeout(Duration::from_secs(20), ready)
            .await
            .expect("the SMTP sink is ready in time")
            .expect("task");
        assert_eq!(
            line.as_deref(),
            Some("ready"),
            "the SMTP sink says it is ready"
        );
        Self { port, dir, child }
    }

    /// Point the app's mail settings at this server.
    pub fn configure(&self, settings: &mut quire::config::Settings) {
        settings.mail.smtp_host = "127.0.0.1".into();
        settings.mail.smtp_port = self.port;
        settings.mail.tls = quire::config::MailTls::None;
        settings.mail.from = "Quire Test <blog@quire.test>".into();
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<Mail> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .filter(|p| {
                        !p.file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                    })
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
            .iter()
            .map(|p| {
                serde_json::from_slice(&std::fs::read(p).expect("read a message"))
                    .expect("a message record")
            })
            .collect()
    }

    /// Wait (20 s at most) until `n` messages have arrived; returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Mail> {
        let what = format!("{n} messages");
        crate::harness::eventually(&what, Duration::from_secs(20), || async {
            let got = self.messages();
            if got.len() >= n {
                Ok(got)
            } else {
                let to: Vec<_> = got.iter().map(|m| m.rcpt_tos.clone()).collect();
                Err(format!("{} to {to:?}", got.len()))
            }
        })
        .await
    }

    /// Hold the message after the `n`-th (see tests/smtp/sink.py) until `release`.
    pub fn hold_after(&self, n: usize) {
        std::fs::write(self.dir.join(".hold-after"), n.to_string()).expect("flag");
    }

    /// Whether a message is being held now.
    pub fn holding(&self) -> bool {
        self.dir.join(".held").exists()
    }

    /// Let the held message go: accepted, or dropped (`discard`) as if its sender vanished.
    pub fn release(&self, discard: bool) {
        if discard {
            std::fs::write(self.dir.join(".discard"), b"").expect("flag");
        }
        std::fs::write(self.dir.join(".release"), b"").expect("flag");
        let _ = std::fs::remove_file(self.dir.join(".hold-after"));
    }

    /// While down, every message is answered 451 (try again later).
    pub fn set_down(&self, down: bool) {
        let flag = self.dir.join(".down");
        if down {
            std::fs::write(flag, b"").expect("flag");
        } else {
            let _ = std::fs::remove_file(flag);
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
