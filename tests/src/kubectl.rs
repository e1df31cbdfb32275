//! kubectl against the local API server, with the environment's admin kubeconfig, run from
//! the repository root (so `manifests/...` paths work as in the docs).

use std::io::Write;
use std::process::{Command, Stdio};

use crate::env::repo_root;
use crate::{Error, TestEnv};

/// What kubectl (or another tool) printed.
#[derive(Clone, Debug)]
pub struct KubectlOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs kubectl with `args`, feeding `stdin` when given.
pub fn kubectl_with_input(args: &[&str], stdin: Option<&str>) -> Result<KubectlOutput, Error> {
    let kubeconfig = TestEnv::get().kubeconfig();
    run_command("kubectl", args, stdin, Some(kubeconfig)).map_err(|reason| Error::Kubectl {
        args: args.join(" "),
        reason,
    })
}

/// Runs `program` with `args` from the repository root, with `KUBECONFIG` when given and
/// `stdin` fed when given; what it printed, or why it could not run.
pub(crate) fn run_command(
    program: impl AsRef<std::ffi::OsStr>,
    args: &[&str],
    stdin: Option<&str>,
    kubeconfig: Option<&std::path::Path>,
) -> Result<KubectlOutput, String> {
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(repo_root())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(path) = kubeconfig {
        command.env("KUBECONFIG", path);
    }
    let mut child = command.spawn().map_err(|e| e.to_string())?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes())
            .map_err(|e| e.to_string())?;
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    Ok(KubectlOutput {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Runs kubectl; the output whether or not it succeeded.
pub fn kubectl(args: &[&str]) -> Result<KubectlOutput, Error> {
    kubectl_with_input(args, None)
}

/// Runs kubectl and fails unless it succeeds; its stdout.
pub fn kubectl_ok(args: &[&str]) -> Result<String, Error> {
    succeeded(args, kubectl(args)?)
}

/// `kubectl apply -n namespace -f -` of `yaml`; fails unless it succeeds.
pub fn kubectl_apply(namespace: &str, yaml: &str) -> Result<String, Error> {
    let args = ["apply", "-n", namespace, "-f", "-"];
    succeeded(&args, kubectl_with_input(&args, Some(yaml))?)
}

/// Its stdout when kubectl succeeded, else its stderr as the error.
fn succeeded(args: &[&str], out: KubectlOutput) -> Result<String, Error> {
    if out.success {
        Ok(out.stdout)
    } else {
        Err(Error::Kubectl {
            args: args.join(" "),
            reason: out.stderr.trim().to_owned(),
        })
    }
}
