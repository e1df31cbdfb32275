//! The Helm chart (`charts/spate`): `helm lint` passes and its schema refuses what it
//! should, it renders the objects `manifests/` does (cluster-wide, namespaced, and with the
//! monitoring component), the API server accepts it in a server-side dry run, and it
//! installs and upgrades on the local cluster, its operator pods running from the image
//! built here until they are available.

mod operator_support;

use std::collections::BTreeMap;

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use kube::Client;
use kube::api::Api;
use operator_support::*;
use serde::Deserialize;
use serde_yaml::Value;
use spate_tests::{Tool, kubectl_with_input, repo_root, run_tool, run_tool_ok, unique_name};

const CHART: &str = "charts/spate";

/// Labels only a Helm release adds.
const RELEASE_LABELS: [&str; 4] = [
    "helm.sh/chart",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
];

/// `--set` arguments for `values`.
fn sets<'a>(values: &[&'a str]) -> Vec<&'a str> {
    values.iter().flat_map(|v| ["--set", *v]).collect()
}

/// `helm template` of the chart in `namespace` with `values`.
fn helm_template(namespace: &str, values: &[&str]) -> Result<String> {
    let mut args = vec!["template", "spate", CHART, "--namespace", namespace];
    args.extend(sets(values));
    Ok(run_tool_ok(Tool::Helm, &args, None)?)
}

/// `kubectl kustomize` of an overlay putting `resources` and `components` (paths from the
/// repository root) in `namespace`.
fn kustomize(namespace: &str, resources: &str, components: &str) -> Result<String> {
    let dir = repo_root()
        .join(".spate/overlays")
        .join(unique_name("chart"));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("kustomization.yaml"),
        format!(
            "namespace: {namespace}\nresources: [../../../{resources}]\ncomponents: [{components}]\n"
        ),
    )?;
    let out = kubectl_ok(&["kustomize", &dir.to_string_lossy()]);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(out?)
}

/// The objects of a rendering by kind and name, without the Namespace (Helm's
/// `--create-namespace` makes it) and without what only a release adds: its labels and the
/// CRD's keep policy.
fn objects(yaml: &str) -> Result<BTreeMap<(String, String), Value>> {
    let mut out = BTreeMap::new();
    for doc in serde_yaml::Deserializer::from_str(yaml) {
        let mut object = Value::deserialize(doc).context("a rendered document")?;
        if object.is_null() || object["kind"] == "Namespace" {
            continue;
        }
        let kind = object["kind"].as_str().context("kind")?.to_owned();
        let name = object["metadata"]["name"]
            .as_str()
            .context("metadata.name")?
            .to_owned();
        let meta = object["metadata"].as_mapping_mut().context("metadata")?;
        for (field, release_only) in [
            ("labels", &RELEASE_LABELS[..]),
            ("annotations", &["helm.sh/resource-policy"][..]),
        ] {
            if let Some(map) = meta.get_mut(field).and_then(Value::as_mapping_mut) {
                for key in release_only {
                    map.remove(*key);
                }
                if map.is_empty() {
                    meta.remove(field);
                }
            }
        }
        integral_numbers_as_integers(&mut object);
        ensure!(
            out.insert((kind.clone(), name.clone()), object).is_none(),
            "{kind}/{name} rendered twice"
        );
    }
    Ok(out)
}

/// Writes `1.0` as `1`: the same number, which Helm keeps as written and kustomize does not.
fn integral_numbers_as_integers(value: &mut Value) {
    match value {
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 1e15) {
                *value = Value::Number((f as i64).into());
            }
        }
        Value::Sequence(items) => items.iter_mut().for_each(integral_numbers_as_integers),
        Value::Mapping(map) => map.values_mut().for_each(integral_numbers_as_integers),
        Value::Tagged(tagged) => integral_numbers_as_integers(&mut tagged.value),
        _ => {}
    }
}

fn ensure_same_objects(what: &str, chart: &str, manifests: &str) -> Result<()> {
    let (chart, manifests) = (objects(chart)?, objects(manifests)?);
    let keys = |m: &BTreeMap<(String, String), Value>| m.keys().cloned().collect::<Vec<_>>();
    ensure!(
        keys(&chart) == keys(&manifests),
        "{what}: the chart renders {:?}, manifests/ {:?}",
        keys(&chart),
        keys(&manifests)
    );
    for (key, object) in &manifests {
        ensure!(
            chart[key] == *object,
            "{what}: {}/{} differs\n--- chart:\n{}--- manifests:\n{}",
            key.0,
            key.1,
            serde_yaml::to_string(&chart[key])?,
            serde_yaml::to_string(object)?
        );
    }
    Ok(())
}

#[test]
fn helm_lint_passes_for_the_defaults_each_scope_and_monitoring_on() -> Result<()> {
    for values in [
        &[][..],
        &["rbac.scope=namespace", "crds.install=false"],
        &["monitoring.enabled=true", "monitoring.labels.release=kps"],
    ] {
        let mut args = vec!["lint", "--strict", CHART];
        args.extend(sets(values));
        let out = run_tool_ok(Tool::Helm, &args, None)?;
        ensure!(
            out.contains("1 chart(s) linted, 0 chart(s) failed"),
            "helm lint {values:?}: {out}"
        );
    }
    Ok(())
}

#[test]
fn the_values_schema_refuses_an_unknown_scope_and_an_unknown_value() -> Result<()> {
    for (value, field) in [("rbac.scope=everywhere", "scope"), ("replica=3", "replica")] {
        let out = run_tool(
            Tool::Helm,
            &["template", "spate", CHART, "--set", value],
            None,
        )?;
        ensure!(!out.success, "helm template --set {value} succeeded");
        ensure!(
            out.stderr
                .contains("values don't meet the specifications of the schema")
                && out.stderr.contains(field),
            "helm template --set {value}: {}",
            out.stderr
        );
    }
    Ok(())
}

#[test]
fn the_defaults_render_the_objects_of_the_cluster_wide_manifests() -> Result<()> {
    ensure_same_objects(
        "cluster-wide",
        &helm_template("spate-system", &[])?,
        &kustomize("spate-system", "manifests", "")?,
    )
}

#[test]
fn the_namespace_scope_renders_the_objects_of_the_namespaced_manifests() -> Result<()> {
    ensure_same_objects(
        "namespaced",
        &helm_template("markets", &["rbac.scope=namespace", "crds.install=false"])?,
        &kustomize("markets", "manifests/namespaced", "")?,
    )
}

#[test]
fn monitoring_on_renders_the_monitoring_component() -> Result<()> {
    ensure_same_objects(
        "monitoring",
        &helm_template("spate-system", &["monitoring.enabled=true"])?,
        &kustomize("spate-system", "manifests", "../../../manifests/monitoring")?,
    )
}

#[tokio::test]
async fn the_api_server_accepts_the_rendered_chart_in_a_server_side_dry_run() -> Result<()> {
    let client = client_with_crd().await?;
    let ns = namespace(&client, "chart-dry-run").await?;
    let outcome = (|| {
        for values in [&[][..], &["rbac.scope=namespace"]] {
            let rendered = helm_template(&ns, values)?;
            let out =
                kubectl_with_input(&["apply", "--dry-run=server", "-f", "-"], Some(&rendered))?;
            println!("{}", out.stdout.trim());
            ensure!(out.success, "dry run of {values:?} refused: {}", out.stderr);
            for object in [
                "customresourcedefinition.apiextensions.k8s.io/ingestionpipelines.spate.dev",
                "clusterrole.rbac.authorization.k8s.io/spate-operator",
                "role.rbac.authorization.k8s.io/spate-operator-leader-election",
                "deployment.apps/spate-operator",
                "poddisruptionbudget.policy/spate-operator",
            ] {
                ensure!(
                    out.stdout.contains(object),
                    "{object} missing from the dry run of {values:?}"
                );
            }
        }
        Ok(())
    })();
    delete_namespace(&client, &ns).await?;
    outcome
}

#[tokio::test]
async fn the_chart_installs_and_upgrades_on_the_local_cluster() -> Result<()> {
    let client = client_with_crd().await?;
    let ns = namespace(&client, "chart-install").await?;
    let outcome = install_and_upgrade(&client, &ns).await;
    // The namespace takes the release's records and namespaced objects with it; the
    // ClusterRole stays, the same rules manifests/ install.
    delete_namespace(&client, &ns).await?;
    outcome
}

/// Installs the chart watching `ns` (the CRD is the suite's), upgrades it with other
/// values, and checks the Deployment follows and the release records both revisions.
async fn install_and_upgrade(client: &Client, ns: &str) -> Result<()> {
    // The ClusterRole may already exist, applied from manifests/ by another suite.
    let common = [
        "--namespace",
        ns,
        "--set",
        "rbac.scope=namespace",
        "--set",
        "crds.install=false",
    ];
    // The operator image built and imported into the local node.
    let image = &spate_tests::Images::get().operator;
    let (repository, tag) = image
        .rsplit_once(':')
        .context("image reference has a tag")?;
    let repository = format!("image.repository={repository}");
    let tag = format!("image.tag={tag}");
    let image_values = [
        "--set",
        repository.as_str(),
        "--set",
        tag.as_str(),
        "--set",
        "image.pullPolicy=Never",
    ];
    let mut install = vec!["install", "spate", CHART, "--take-ownership"];
    install.extend(common);
    install.extend(image_values);
    println!("{}", run_tool_ok(Tool::Helm, &install, None)?.trim());
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    available(&deployments, 2).await?;
    let installed = deployments.get("spate-operator").await?;
    ensure!(
        installed.spec.as_ref().and_then(|s| s.replicas) == Some(2),
        "installed with {:?} replicas",
        installed.spec.as_ref().and_then(|s| s.replicas)
    );
    let env = serde_json::to_string(&installed.spec)?;
    ensure!(
        env.contains("SPATE_WATCH_NAMESPACES") && env.contains("spate.dev/control"),
        "the installed Deployment neither watches its namespace nor mounts the control token"
    );

    let mut upgrade = vec!["upgrade", "spate", CHART];
    upgrade.extend(common);
    upgrade.extend(image_values);
    upgrade.extend(sets(&["replicas=1", "logFormat=text"]));
    println!("{}", run_tool_ok(Tool::Helm, &upgrade, None)?.trim());
    available(&deployments, 1).await?;
    let upgraded = deployments.get("spate-operator").await?;
    let spec = upgraded.spec.as_ref().context("spec")?;
    ensure!(
        spec.replicas == Some(1),
        "upgraded to {:?} replicas",
        spec.replicas
    );
    let args = spec
        .template
        .spec
        .as_ref()
        .and_then(|p| p.containers.first())
        .and_then(|c| c.args.clone())
        .unwrap_or_default();
    ensure!(
        args == ["--log-format=text"],
        "upgraded operator args {args:?}"
    );

    let status: serde_json::Value = serde_json::from_str(&run_tool_ok(
        Tool::Helm,
        &["status", "spate", "--namespace", ns, "-o", "json"],
        None,
    )?)?;
    ensure!(
        status["version"] == 2 && status["info"]["status"] == "deployed",
        "release after the upgrade: version {} status {}",
        status["version"],
        status["info"]["status"]
    );
    Ok(())
}

/// Waits until the operator's Deployment has rolled out `replicas` available pods of
/// its current template (the pods run: image, probes, RBAC and the control token work).
async fn available(deployments: &Api<Deployment>, replicas: i32) -> Result<()> {
    spate_tests::eventually(
        "the chart's operator Deployment to be available",
        std::time::Duration::from_secs(180),
        || async {
            let d = deployments
                .get("spate-operator")
                .await
                .map_err(|e| e.to_string())?;
            let generation = d.metadata.generation;
            let status = d.status.unwrap_or_default();
            let rolled_out = status.observed_generation == generation
                && status.updated_replicas == Some(replicas)
                && status.available_replicas == Some(replicas)
                && status.replicas == Some(replicas);
            if rolled_out {
                Ok(())
            } else {
                Err(format!(
                    "observed generation {:?} of {generation:?}, {:?} updated, {:?} available, {:?} in all (want {replicas})",
                    status.observed_generation,
                    status.updated_replicas,
                    status.available_replicas,
                    status.replicas
                ))
            }
        },
    )
    .await?;
    Ok(())
}
