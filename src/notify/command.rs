//! The `command` destination: a program run with the webhook body on stdin (for mail or paging
//! gateways). A non-zero exit or running past its timeout is a failure; it is tried once.
//!
//! The program runs in a process group of its own: past its timeout the whole group is killed,
//! so a wrapper script or a program it started cannot keep recon waiting, and recon stops
//! waiting for its pipes once the program has ended (a background child may keep them open).

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::Delivery;

/// How long recon waits for the program's stderr and stdin after it ended.
const PIPE_GRACE: Duration = Duration::from_millis(500);
/// How much of the program's stderr is kept.
const STDERR_LIMIT: u64 = 64 * 1024;

/// What a `command` destination runs and how its output is shown.
pub(crate) struct Spec<'a> {
    /// The program and its arguments.
    pub argv: &'a [String],
    /// How long it may run.
    pub timeout: Duration,
    /// Environment variables the program does not inherit (the destinations' `url_env`).
    pub hidden_env: &'a [String],
    /// Removes every secret recon knows from a text the program wrote.
    pub scrub: &'a (dyn Fn(&str) -> String + Sync),
}

/// Runs the program with `body` on stdin, killing its process group after the timeout.
pub(crate) fn run(spec: &Spec<'_>, body: &[u8]) -> Delivery {
    let failed = |error: String| Delivery {
        attempts: 1,
        error: Some((spec.scrub)(&error)),
    };
    let Some((program, args)) = spec.argv.split_first() else {
        return failed("no program to run".into());
    };
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0);
    for var in spec.hidden_env {
        command.env_remove(var);
    }
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => return failed(format!("cannot start `{program}`: {e}")),
    };
    // Both pipes on threads of their own, so that neither side waits for the other; their
    // results come back on channels, and a thread still blocked on a pipe is left behind.
    let (wrote_tx, wrote) = mpsc::channel();
    if let Some(mut stdin) = child.stdin.take() {
        let body = body.to_vec();
        std::thread::spawn(move || wrote_tx.send(stdin.write_all(&body)));
    }
    let (said_tx, said) = mpsc::channel();
    if let Some(stderr) = child.stderr.take() {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = stderr.take(STDERR_LIMIT).read_to_end(&mut text);
            said_tx.send(String::from_utf8_lossy(&text).into_owned())
        });
    }
    let status = wait(&mut child, program, spec.timeout);
    let wrote = wrote.recv_timeout(PIPE_GRACE).ok();
    let said = said.recv_timeout(PIPE_GRACE).unwrap_or_default();
    let last_line = said
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    match status {
        Err(e) => failed(e),
        Ok(s) if !s.success() => {
            let tail = if last_line.is_empty() {
                String::new()
            } else {
                format!(": {}", last_line.trim())
            };
            failed(format!("`{program}` exited with {s}{tail}"))
        }
        Ok(_) => match wrote {
            Some(Err(e)) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                failed(format!("writing to `{program}`: {e}"))
            }
            _ => Delivery {
                attempts: 1,
                error: None,
            },
        },
    }
}

/// Waits for the program, killing its process group once it runs past `timeout`.
fn wait(
    child: &mut Child,
    program: &str,
    timeout: Duration,
) -> Result<std::process::ExitStatus, String> {
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if started.elapsed() >= timeout => {
                kill_group(child);
                let _ = child.wait();
                return Err(format!(
                    "`{program}` ran longer than {} and was stopped",
                    humantime::format_duration(timeout)
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for `{program}`: {e}")),
        }
    }
}

/// Kills the child's process group (its id is the child's: it was started with
/// `process_group(0)`), and the child itself should `kill` not be there.
fn kill_group(child: &mut Child) {
    let group = format!("-{}", child.id());
    let killed = Command::new("kill")
        .args(["-KILL", "--", &group])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !killed {
        let _ = child.kill();
    }
}
