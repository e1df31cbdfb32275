//! Container processes: started in their own process group with only the container's
//! environment, output appended to a per-container log file, stopped by signal.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

/// What to run for one container start.
#[derive(Clone, Debug)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub log_file: PathBuf,
}

/// How a process ended, in the terms of a container status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exit {
    pub exit_code: i32,
    pub signal: Option<i32>,
}

impl From<ExitStatus> for Exit {
    fn from(status: ExitStatus) -> Self {
        match (status.code(), status.signal()) {
            (Some(code), _) => Self {
                exit_code: code,
                signal: None,
            },
            (None, Some(signal)) => Self {
                exit_code: 128 + signal,
                signal: Some(signal),
            },
            (None, None) => Self {
                exit_code: -1,
                signal: None,
            },
        }
    }
}

impl Exit {
    /// The container status reason the kubelet reports for this exit.
    pub fn reason(self) -> &'static str {
        if self.exit_code == 0 {
            "Completed"
        } else {
            "Error"
        }
    }
}

/// Starts `launch` in a new process group; the child is killed if its handle is dropped.
pub fn spawn(launch: &Launch, banner: &str) -> std::io::Result<Child> {
    if let Some(dir) = launch.log_file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&launch.log_file)?;
    writeln!(log, "----- {banner}")?;
    let stderr = log.try_clone()?;
    let mut command = match setpriv() {
        // SIGKILL when the runner dies, even by SIGKILL: no container outlives its runner.
        Some(setpriv) => {
            let mut command = Command::new(setpriv);
            command
                .args(["--pdeathsig", "KILL", "--"])
                .arg(&launch.program);
            command
        }
        None => Command::new(&launch.program),
    };
    command
        .args(&launch.args)
        .env_clear()
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .current_dir(launch.log_file.parent().unwrap_or(Path::new("/")))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(stderr)
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
}

/// util-linux's `setpriv`, which sets the parent-death signal and then execs the program
/// in place (same pid), when this machine has it.
fn setpriv() -> Option<&'static Path> {
    ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .map(Path::new)
        .find(|path| path.exists())
}

/// Sends `signal` to the process group led by `pid`; a group already gone is not an error.
pub fn signal_group(pid: u32, signal: Signal) -> nix::Result<()> {
    let Ok(pid) = i32::try_from(pid) else {
        return Ok(());
    };
    match killpg(Pid::from_raw(pid), signal) {
        Err(nix::errno::Errno::ESRCH) => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exits_map_to_container_terms() {
        let code = Exit::from(ExitStatus::from_raw(3 << 8));
        assert_eq!(
            code,
            Exit {
                exit_code: 3,
                signal: None
            }
        );
        assert_eq!(code.reason(), "Error");
        let killed = Exit::from(ExitStatus::from_raw(15));
        assert_eq!(
            killed,
            Exit {
                exit_code: 143,
                signal: Some(15)
            }
        );
        assert_eq!(Exit::from(ExitStatus::from_raw(0)).reason(), "Completed");
    }

    #[tokio::test]
    async fn a_process_gets_only_its_environment_and_writes_to_its_log() {
        let dir = std::env::temp_dir().join(format!("podrunner-process-{}", std::process::id()));
        let launch = Launch {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), "echo \"[$GREETING][$HOME]\"".into()],
            env: vec![("GREETING".into(), "hi".into())],
            log_file: dir.join("c.log"),
        };
        let status = spawn(&launch, "start 1").unwrap().wait().await.unwrap();
        assert!(status.success());
        let log = std::fs::read_to_string(&launch.log_file).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(log, "----- start 1\n[hi][]\n");
    }

    #[tokio::test]
    async fn a_group_signal_stops_the_process() {
        let dir = std::env::temp_dir().join(format!("podrunner-signal-{}", std::process::id()));
        let launch = Launch {
            program: "/bin/sleep".into(),
            args: vec!["30".into()],
            env: vec![],
            log_file: dir.join("c.log"),
        };
        let mut child = spawn(&launch, "start").unwrap();
        signal_group(child.id().unwrap(), Signal::SIGTERM).unwrap();
        let exit = Exit::from(child.wait().await.unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(exit.signal, Some(15));
    }
}
