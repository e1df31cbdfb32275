//! The consumer's and the operator's container images, built from the release binaries by
//! `tests/env/images/build.sh` (what `make images` runs) and imported into the local node.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::binaries::without_cargo_test_env;
use crate::env::{parse_env_file, repo_root, required};
use crate::{Error, TestEnv};

/// The image references the pods use.
#[derive(Clone, Debug)]
pub struct Images {
    /// `localhost/spate-consumer:<version>-<digest>`.
    pub consumer: String,
    /// `localhost/spate-operator:<version>-<digest>`.
    pub operator: String,
}

static IMAGES: OnceLock<Images> = OnceLock::new();

impl Images {
    /// The images of the current sources: `build.sh` runs once per test process (a
    /// release build that is up to date, and images whose binary changed), so a test
    /// never runs a stale image.
    ///
    /// # Panics
    /// When the images cannot be built or imported.
    pub fn get() -> &'static Images {
        IMAGES.get_or_init(|| {
            TestEnv::get();
            Self::build().unwrap_or_else(|err| panic!("spate's images are unavailable: {err}"))
        })
    }

    /// Runs `build.sh` and reads what it recorded.
    pub fn build() -> Result<Images, Error> {
        let script = repo_root().join("tests/env/images/build.sh");
        let mut cmd = Command::new(&script);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit());
        without_cargo_test_env(&mut cmd);
        let status = cmd.status().map_err(|source| Error::RunEnvScript {
            script: script.clone(),
            source,
        })?;
        if !status.success() {
            return Err(Error::BuildImages { script, status });
        }
        Self::read(&repo_root().join(".spate/images.env"))
    }

    /// Reads `images.env`.
    pub fn read(path: &std::path::Path) -> Result<Images, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadEnvFile {
            path: PathBuf::from(path),
            source,
        })?;
        let vars = parse_env_file(&text);
        let get = |key: &'static str| required(&vars, key, path);
        Ok(Images {
            consumer: get("SPATE_CONSUMER_IMAGE")?,
            operator: get("SPATE_OPERATOR_IMAGE")?,
        })
    }
}
