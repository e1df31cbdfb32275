//! The images `make images` assembles without a container engine describe the same image as
//! the Dockerfiles users build with one: user, entrypoint, exposed ports and labels; and
//! they carry no shell.

use std::collections::BTreeMap;
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;
use spate_tests::{Images, repo_root};

/// What a Dockerfile's final stage says of its image.
#[derive(Debug, Default, PartialEq)]
struct Described {
    user: String,
    entrypoint: Vec<String>,
    ports: Vec<String>,
    labels: BTreeMap<String, String>,
}

/// Reads USER, EXPOSE, LABEL and ENTRYPOINT of the Dockerfile's last stage (continuation
/// lines joined; values in double quotes unquoted).
fn from_dockerfile(text: &str) -> Result<Described> {
    let joined = text.replace("\\\n", " ");
    let last_stage = joined
        .rsplit_once("\nFROM ")
        .map(|(_, s)| s)
        .context("no FROM")?;
    let mut d = Described::default();
    for line in last_stage.lines().map(str::trim) {
        let (instruction, rest) = line.split_once(' ').unwrap_or((line, ""));
        match instruction {
            "USER" => d.user = rest.trim().to_owned(),
            "EXPOSE" => d.ports.extend(rest.split_whitespace().map(|p| {
                if p.contains('/') {
                    p.to_owned()
                } else {
                    format!("{p}/tcp")
                }
            })),
            "ENTRYPOINT" => d.entrypoint = serde_json::from_str(rest.trim())?,
            "LABEL" => {
                for pair in rest.split_whitespace() {
                    let (k, v) = pair.split_once('=').context("LABEL key=value")?;
                    d.labels
                        .insert(k.to_owned(), v.trim_matches('"').to_owned());
                }
            }
            _ => {}
        }
    }
    d.ports.sort();
    Ok(d)
}

/// Runs `tar -xOf archive member`.
fn tar_member(archive: &std::path::Path, member: &str) -> Result<Vec<u8>> {
    let out = Command::new("tar")
        .arg("-xOf")
        .arg(archive)
        .arg(member)
        .output()?;
    if !out.status.success() {
        bail!("tar {member}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(out.stdout)
}

/// The image config and the layers' file lists of an OCI archive made by mkimage.py.
fn from_archive(archive: &std::path::Path) -> Result<(String, Described, Vec<String>)> {
    let index: Value = serde_json::from_slice(&tar_member(archive, "./index.json")?)?;
    let name = index["manifests"][0]["annotations"]["io.containerd.image.name"]
        .as_str()
        .context("image name")?
        .to_owned();
    let blob = |digest: &str| {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        tar_member(archive, &format!("./blobs/sha256/{hex}"))
    };
    let manifest: Value = serde_json::from_slice(&blob(
        index["manifests"][0]["digest"].as_str().context("digest")?,
    )?)?;
    let config: Value = serde_json::from_slice(&blob(
        manifest["config"]["digest"].as_str().context("config")?,
    )?)?;
    let c = &config["config"];
    let mut ports: Vec<String> = c["ExposedPorts"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    ports.sort();
    let described = Described {
        user: c["User"].as_str().unwrap_or_default().to_owned(),
        entrypoint: serde_json::from_value(c["Entrypoint"].clone()).unwrap_or_default(),
        ports,
        labels: serde_json::from_value(c["Labels"].clone()).unwrap_or_default(),
    };
    let mut files = Vec::new();
    for layer in manifest["layers"].as_array().context("layers")? {
        let digest = layer["digest"].as_str().context("layer digest")?;
        let dir = tempdir()?;
        let path = dir.join("layer.tar");
        std::fs::write(&path, blob(digest)?)?;
        let out = Command::new("tar").arg("-tf").arg(&path).output()?;
        files.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(|f| f.trim_start_matches("./").to_owned()),
        );
        std::fs::remove_dir_all(&dir)?;
    }
    Ok((name, described, files))
}

fn tempdir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(spate_tests::unique_name("spate-image-test"));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

#[test]
fn the_images_describe_what_the_dockerfiles_describe_and_carry_no_shell() -> Result<()> {
    let images = Images::get();
    for (component, reference) in [
        ("consumer", &images.consumer),
        ("operator", &images.operator),
    ] {
        let dockerfile = std::fs::read_to_string(repo_root().join(component).join("Dockerfile"))?;
        let want = from_dockerfile(&dockerfile)?;
        let archive = repo_root().join(format!(".spate/images/spate-{component}.tar"));
        let (name, got, files) = from_archive(&archive)?;
        ensure!(
            name == *reference,
            "{archive:?} is {name}, images.env says {reference}"
        );
        ensure!(
            got == want,
            "spate-{component}: the image says {got:#?}, its Dockerfile {want:#?}"
        );
        ensure!(
            want.user == "65532:65532",
            "spate-{component} runs as {}",
            want.user
        );
        let shells: Vec<&String> = files
            .iter()
            .filter(|f| f.ends_with("bin/sh") || f.ends_with("bin/bash") || f.ends_with("bin/dash"))
            .collect();
        ensure!(
            shells.is_empty(),
            "spate-{component} carries a shell: {shells:?}"
        );
        let binary = format!("usr/local/bin/spate-{component}");
        ensure!(files.contains(&binary), "{binary} missing from the image");
    }
    Ok(())
}

#[test]
fn a_dockerfile_is_read_from_its_last_stage() -> Result<()> {
    let d = from_dockerfile(
        "FROM rust AS b\nUSER root\nEXPOSE 1\nFROM scratch\nUSER 1:2\nEXPOSE 80 9000/udp\n\
         LABEL a=\"x\" \\\n      b=y\nENTRYPOINT [\"/bin/app\", \"run\"]\n",
    )?;
    assert_eq!(
        d,
        Described {
            user: "1:2".into(),
            entrypoint: vec!["/bin/app".into(), "run".into()],
            ports: vec!["80/tcp".into(), "9000/udp".into()],
            labels: [("a".into(), "x".into()), ("b".into(), "y".into())].into(),
        }
    );
    Ok(())
}
