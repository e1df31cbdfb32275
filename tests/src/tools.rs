//! The environment's command-line tools — helm, promtool and argocd-lua-health — at the
//! paths its env file names (`HELM`, `PROMTOOL`, `ARGOCD_LUA_HEALTH`), run from the
//! repository root; helm with the admin kubeconfig when the environment has Kubernetes.

use crate::kubectl::run_command;
use crate::{Error, KubectlOutput, TestEnv};

/// A tool of the environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    /// helm, built from helm.sh/helm/v4 (`tests/env/tools/`).
    Helm,
    /// promtool, from Debian's prometheus package.
    Promtool,
    /// Argo CD's Lua health check runner (gopher-lua), `tests/env/tools/argocd-lua-health`.
    ArgocdLuaHealth,
}

impl Tool {
    /// The env file key naming the tool's path.
    pub fn key(self) -> &'static str {
        match self {
            Tool::Helm => "HELM",
            Tool::Promtool => "PROMTOOL",
            Tool::ArgocdLuaHealth => "ARGOCD_LUA_HEALTH",
        }
    }
}

/// Runs `tool` with `args`, feeding `stdin` when given; the output whether or not it
/// succeeded.
pub fn run_tool(tool: Tool, args: &[&str], stdin: Option<&str>) -> Result<KubectlOutput, Error> {
    let env = TestEnv::get();
    let failed = |reason: String| Error::RunTool {
        tool: tool.key(),
        args: args.join(" "),
        reason,
    };
    let path = env.vars.get(tool.key()).ok_or_else(|| {
        failed(format!(
            "the env file has no {}: restart the environment (make env-down env-up) with this checkout's scripts",
            tool.key()
        ))
    })?;
    let kubeconfig = match tool {
        Tool::Helm => env.kubeconfig_path.as_deref(),
        _ => None,
    };
    run_command(path, args, stdin, kubeconfig).map_err(failed)
}

/// Runs `tool` and fails unless it succeeds; its stdout.
pub fn run_tool_ok(tool: Tool, args: &[&str], stdin: Option<&str>) -> Result<String, Error> {
    let out = run_tool(tool, args, stdin)?;
    if out.success {
        Ok(out.stdout)
    } else {
        Err(Error::RunTool {
            tool: tool.key(),
            args: args.join(" "),
            reason: format!("{}{}", out.stdout, out.stderr).trim().to_owned(),
        })
    }
}
