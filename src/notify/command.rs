//! The `command` destination: a program run with the webhook body on stdin (for mail or paging
//! gateways). A non-zero exit or running past its timeout is a failure; it is tried once.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::Delivery;

/// Runs `argv` with `body` on stdin, killing it after `timeout`.
pub(crate) fn run(argv: &[String], body: &[u8], timeout: Duration) -> Delivery {
    let failed = |error: String| Delivery {
        attempts: 1,
        error: Some(crate::store::scrub(&error)),
    };
    let Some((program, args)) = argv.split_first() else {
        return failed("no program to run".into());
    };
    let mut child = match Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return failed(format!("cannot start `{program}`: {e}")),
    };
    // Both pipes on threads of their own, so that neither side waits for the other.
    let stdin = child.stdin.take();
    let body = body.to_vec();
    let writer = std::thread::spawn(move || stdin.map(|mut s| s.write_all(&body)));
    let stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut s) = stderr {
            let _ = s.read_to_string(&mut text);
        }
        text
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if started.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!(
                    "`{program}` ran longer than {} and was stopped",
                    humantime::format_duration(timeout)
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => break Err(format!("waiting for `{program}`: {e}")),
        }
    };
    let wrote = writer.join().ok().flatten();
    let said = reader.join().unwrap_or_default();
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
