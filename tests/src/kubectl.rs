//! kubectl against the local API server, with the environment's admin kubeconfig, run from
//! the repository root (so `manifests/...` paths work as in the docs).

use std::io::Write;
use std::process::{Command, Stdio};

use crate::env::repo_root;
use crate::{Error, TestEnv};

/// What kubectl printed.
#[derive(Clone, Debug)]
pub struct KubectlOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs kubectl with `args`, feeding `stdin` when given.
pub fn kubectl_with_input(args: &[&str], stdin: Option<&str>) -> Result<KubectlOutput, Error> {
    let failed = |reason: String| Error::Kubectl {
        args: args.join(" "),
        reason,
    };
    let mut child = Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", TestEnv::get().kubeconfig())
        .current_dir(repo_root())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(e.to_string()))?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes())
            .map_err(|e| failed(e.to_string()))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| failed(e.to_string()))?;
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
