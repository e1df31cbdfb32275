//! The container's memory limit (cgroup v2 `memory.max` or v1 `memory.limit_in_bytes`,
//! the tightest along the process's cgroup path) and the byte budgets derived from it.

use std::path::{Path, PathBuf};

/// Byte watermark without a memory limit: 256 MiB of in-flight payloads.
pub const DEFAULT_HIGH_BYTES: usize = 256 << 20;
/// The share of the memory limit in-flight payloads may take: a quarter. The rest is
/// for the ILP buffers (about as large as the batches they encode), librdkafka's
/// prefetch queue (`queued.max.messages.kbytes`), the dead-letter producer and the
/// process itself.
const LIMIT_SHARE: usize = 4;
/// Limits at or above this are "unlimited" (v1 reports `PAGE_COUNTER_MAX` pages).
const UNLIMITED: u64 = 1 << 60;

/// The byte bounds of in-flight data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteBudget {
    pub high: usize,
    pub low: usize,
    pub partition: usize,
    pub batch: usize,
}

impl ByteBudget {
    /// Defaults from `limit` (bytes) when known; each `Some` setting overrides its
    /// default. `max_workers` bounds how many batches are encoded at once.
    pub fn derive(
        limit: Option<u64>,
        high: Option<usize>,
        low: Option<usize>,
        partition: Option<usize>,
        batch: Option<usize>,
        max_workers: usize,
    ) -> Self {
        let from_limit =
            limit.map(|l| usize::try_from(l / LIMIT_SHARE as u64).unwrap_or(usize::MAX));
        let high = high.or(from_limit).unwrap_or(DEFAULT_HIGH_BYTES).max(1);
        let low = low.unwrap_or(high / 2).min(high.saturating_sub(1));
        let partition = partition.unwrap_or(high / 2).max(1);
        // Every worker's batch and its ILP encoding together stay within the high
        // watermark: at most high / (2 · max_workers) each, between 64 KiB and 16 MiB.
        let batch = batch
            .unwrap_or_else(|| (high / (2 * max_workers.max(1))).clamp(64 << 10, 16 << 20))
            .max(1);
        ByteBudget {
            high,
            low,
            partition,
            batch,
        }
    }
}

/// The memory limit of this process's cgroup, if one is set.
pub fn cgroup_memory_limit() -> Option<u64> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    memory_limit(Path::new("/sys/fs/cgroup"), &own)
}

/// The tightest memory limit of the cgroup path `proc_self_cgroup` names, read under
/// `root` (the cgroup mount): every directory from the process's own cgroup up to
/// the root is read, in the v2 layout (`memory.max`) and the v1 one
/// (`memory/memory.limit_in_bytes`). Inside a container with its own cgroup namespace
/// the path is `/` and the mount is the container's own cgroup.
pub fn memory_limit(root: &Path, proc_self_cgroup: &str) -> Option<u64> {
    let mut limits = Vec::new();
    for line in proc_self_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next(), parts.next(), parts.next());
        let (Some(controllers), Some(path)) = (controllers, path) else {
            continue;
        };
        let (dir, file) = if controllers.is_empty() {
            (root.to_owned(), "memory.max")
        } else if controllers.split(',').any(|c| c == "memory") {
            (root.join("memory"), "memory.limit_in_bytes")
        } else {
            continue;
        };
        for ancestor in ancestors(&dir, path) {
            if let Some(limit) = read_limit(&ancestor.join(file)) {
                limits.push(limit);
            }
        }
    }
    limits.into_iter().min()
}

/// `dir/path`, then each parent up to `dir` itself.
fn ancestors(dir: &Path, path: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut rel = PathBuf::from(path.trim_start_matches('/'));
    loop {
        out.push(dir.join(&rel));
        if !rel.pop() {
            break;
        }
    }
    out.dedup();
    out
}

/// A limit file's value; `None` for `max`, unlimited or unreadable.
fn read_limit(file: &Path) -> Option<u64> {
    parse_limit(&std::fs::read_to_string(file).ok()?)
}

fn parse_limit(text: &str) -> Option<u64> {
    let v: u64 = text.trim().parse().ok()?;
    (v < UNLIMITED).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> PathBuf {
        let root = std::env::temp_dir().join(format!(
            "spate-memory-{}-{}",
            std::process::id(),
            crate::codec::validate::now_ns()
        ));
        for (path, text) in files {
            let file = root.join(path);
            std::fs::create_dir_all(file.parent().expect("parent")).expect("dir");
            std::fs::write(file, text).expect("write");
        }
        root
    }

    #[test]
    fn a_v2_limit_is_read_from_the_own_cgroup_and_its_parents() {
        let root = tree(&[
            ("memory.max", "max\n"),
            ("pods/memory.max", "1073741824\n"),
            ("pods/a/memory.max", "max\n"),
        ]);
        assert_eq!(memory_limit(&root, "0::/pods/a\n"), Some(1 << 30));
        assert_eq!(memory_limit(&root, "0::/\n"), None);
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn a_v1_limit_is_read_from_the_memory_controller() {
        let root = tree(&[
            ("memory/memory.limit_in_bytes", "9223372036854771712\n"),
            ("memory/spate-test/memory.limit_in_bytes", "536870912\n"),
        ]);
        let own = "12:cpu,cpuacct:/spate-test\n7:memory:/spate-test\n1:name=systemd:/\n";
        assert_eq!(memory_limit(&root, own), Some(512 << 20));
        assert_eq!(memory_limit(&root, "7:memory:/\n"), None, "unlimited");
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn budgets_follow_the_limit_unless_set() {
        let b = ByteBudget::derive(Some(512 << 20), None, None, None, None, 16);
        assert_eq!(
            b,
            ByteBudget {
                high: 128 << 20,
                low: 64 << 20,
                partition: 64 << 20,
                batch: 4 << 20,
            }
        );
        let b = ByteBudget::derive(None, None, None, None, None, 16);
        assert_eq!(b.high, DEFAULT_HIGH_BYTES);
        let b = ByteBudget::derive(
            Some(512 << 20),
            Some(1000),
            Some(5000),
            Some(10),
            Some(7),
            2,
        );
        assert_eq!((b.high, b.low, b.partition, b.batch), (1000, 999, 10, 7));
    }
}
