//! What to run for a container: the local program standing in for its image, its
//! command line with `$(VAR)` expanded, and its environment with the listen address
//! moved onto the pod's own IP.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Container;

use super::envvars::expand;
use super::process::Launch;

/// Inputs a launch is built from besides the container spec.
#[derive(Clone, Debug)]
pub struct LaunchContext<'a> {
    pub pod_name: &'a str,
    pub pod_ip: Ipv4Addr,
    /// The program the image maps to.
    pub program: &'a Path,
    /// The container's resolved environment (`env` and `envFrom`).
    pub env: Vec<(String, String)>,
    /// Host variables passed through (e.g. `PATH`); the container's own win.
    pub passed: Vec<(String, String)>,
    /// Variables holding a `HOST:PORT` listen address to move onto the pod IP.
    pub listen_env: &'a [String],
    pub log_file: PathBuf,
}

/// The process to start for `container`.
pub fn build(container: &Container, cx: LaunchContext<'_>) -> Launch {
    let mut env = cx.passed.clone();
    let set = |env: &mut Vec<(String, String)>, name: &str, value: String| match env
        .iter_mut()
        .find(|(n, _)| n == name)
    {
        Some(slot) => slot.1 = value,
        None => env.push((name.to_owned(), value)),
    };
    set(&mut env, "HOSTNAME", cx.pod_name.to_owned());
    for (name, value) in &cx.env {
        set(&mut env, name, value.clone());
    }
    let first_port = container
        .ports
        .iter()
        .flatten()
        .map(|p| p.container_port)
        .next();
    for name in cx.listen_env {
        let current = env.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        let moved = match current {
            Some(value) => Some(move_listen_address(&value, cx.pod_ip)),
            None => first_port.map(|port| format!("{}:{port}", cx.pod_ip)),
        };
        if let Some(value) = moved {
            set(&mut env, name, value);
        }
    }

    let lookup = |name: &str| {
        cx.env
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let command: Vec<String> = container
        .command
        .iter()
        .flatten()
        .map(|s| expand(s, lookup))
        .collect();
    let args = container.args.iter().flatten().map(|s| expand(s, lookup));
    let (program, mut argv) = match command.split_first() {
        Some((first, rest)) if !is_image_entrypoint(first, cx.program) => {
            (PathBuf::from(first), rest.to_vec())
        }
        Some((_, rest)) => (cx.program.to_path_buf(), rest.to_vec()),
        None => (cx.program.to_path_buf(), Vec::new()),
    };
    argv.extend(args);
    Launch {
        program,
        args: argv,
        env,
        log_file: cx.log_file,
    }
}

/// Whether a container `command[0]` names the image's own program (same file name), so it
/// runs the mapped local program rather than a host binary of that name.
fn is_image_entrypoint(command: &str, program: &Path) -> bool {
    Path::new(command)
        .file_name()
        .is_some_and(|name| Some(name) == program.file_name())
}

/// `HOST:PORT` with HOST replaced by `ip`; a value without a port becomes `ip` alone.
pub fn move_listen_address(value: &str, ip: Ipv4Addr) -> String {
    match value.rsplit_once(':') {
        Some((_, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{ip}:{port}")
        }
        _ => ip.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn container(value: serde_json::Value) -> Container {
        serde_json::from_value(value).unwrap()
    }

    fn context(env: Vec<(&str, &str)>) -> LaunchContext<'static> {
        LaunchContext {
            pod_name: "c-1",
            pod_ip: Ipv4Addr::new(127, 4, 0, 7),
            program: Path::new("/build/spate-consumer"),
            env: env
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            passed: vec![
                ("PATH".into(), "/usr/bin".into()),
                ("HOSTNAME".into(), "host".into()),
            ],
            listen_env: Box::leak(Box::new(["SPATE_LISTEN".to_owned()])),
            log_file: "/tmp/c.log".into(),
        }
    }

    fn get<'a>(launch: &'a Launch, name: &str) -> Option<&'a str> {
        launch
            .env
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn the_listen_address_moves_onto_the_pod_ip() {
        let c = container(
            json!({ "name": "consumer", "image": "spate-consumer", "ports": [{ "containerPort": 9464 }] }),
        );
        let launch = build(
            &c,
            context(vec![
                ("SPATE_LISTEN", "0.0.0.0:9464"),
                ("KAFKA_BROKERS", "127.0.0.1:9092"),
            ]),
        );
        assert_eq!(get(&launch, "SPATE_LISTEN"), Some("127.4.0.7:9464"));
        assert_eq!(get(&launch, "KAFKA_BROKERS"), Some("127.0.0.1:9092"));
        assert_eq!(get(&launch, "HOSTNAME"), Some("c-1"));
        assert_eq!(get(&launch, "PATH"), Some("/usr/bin"));
        let unset = build(&c, context(vec![]));
        assert_eq!(
            get(&unset, "SPATE_LISTEN"),
            Some("127.4.0.7:9464"),
            "set from the declared port"
        );
        assert_eq!(
            move_listen_address("[::]:80", Ipv4Addr::new(127, 4, 0, 7)),
            "127.4.0.7:80"
        );
    }

    #[test]
    fn args_run_the_mapped_program_with_variables_expanded() {
        let c = container(json!({ "name": "c", "image": "i", "args": ["--topic", "$(TOPIC)"] }));
        let launch = build(&c, context(vec![("TOPIC", "trades")]));
        assert_eq!(launch.program, Path::new("/build/spate-consumer"));
        assert_eq!(launch.args, ["--topic", "trades"]);
    }

    #[test]
    fn a_command_naming_the_image_program_runs_the_mapped_one_and_another_runs_as_given() {
        let own = container(
            json!({ "name": "c", "image": "i", "command": ["/usr/local/bin/spate-consumer", "-v"], "args": ["x"] }),
        );
        let launch = build(&own, context(vec![]));
        assert_eq!(launch.program, Path::new("/build/spate-consumer"));
        assert_eq!(launch.args, ["-v", "x"]);
        let other = container(
            json!({ "name": "c", "image": "i", "command": ["/bin/sh", "-c", "echo $(POD)"] }),
        );
        let launch = build(&other, context(vec![("POD", "p")]));
        assert_eq!(launch.program, Path::new("/bin/sh"));
        assert_eq!(launch.args, ["-c", "echo p"]);
    }
}
