//! inotify wake-ups: a hint that something changed under an include pattern's directory, so
//! new lines are read at once instead of at the next poll. Polling stays the source of truth
//! (events can be lost, and some filesystems — NFS, some container overlays — send none).

use notify::{EventKind, RecursiveMode, Watcher};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Notify;

/// What the watcher tells the tailing loop.
#[derive(Default)]
pub(crate) struct Wake {
    /// Something changed: read now.
    pub notify: Notify,
    /// A file appeared, vanished or was renamed: expand the globs now.
    pub rediscover: AtomicBool,
}

/// Watches the fixed directory part of every pattern; `None` when inotify is unavailable.
pub(crate) fn watch(patterns: &[String], wake: Arc<Wake>) -> Option<notify::RecommendedWatcher> {
    let target = Arc::clone(&wake);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if matches!(
            event.kind,
            EventKind::Create(_)
                | EventKind::Remove(_)
                | EventKind::Modify(notify::event::ModifyKind::Name(_))
        ) {
            target.rediscover.store(true, Ordering::Relaxed);
        }
        target.notify.notify_one();
    })
    .ok()?;
    let mut watching = 0;
    for pattern in patterns {
        let (dir, recursive) = fixed_dir(pattern);
        let mode = if recursive {
            RecursiveMode::Recursive
        } else {
            RecursiveMode::NonRecursive
        };
        if watcher.watch(&dir, mode).is_ok() {
            watching += 1;
        }
    }
    (watching > 0).then_some(watcher)
}

/// The directory before the first glob character, and whether matches may lie deeper.
fn fixed_dir(pattern: &str) -> (PathBuf, bool) {
    let mut dir = PathBuf::new();
    let components: Vec<Component<'_>> = Path::new(pattern).components().collect();
    for (i, c) in components.iter().enumerate() {
        let text = c.as_os_str().to_string_lossy();
        if text.contains(['*', '?', '[', '{']) {
            // A glob in a directory component (or `**`) can match below this directory.
            return (dir, i + 1 < components.len());
        }
        if i + 1 == components.len() {
            break; // the file name itself
        }
        dir.push(c);
    }
    (dir, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixed_part_of_a_pattern() {
        assert_eq!(
            fixed_dir("/var/log/*.log"),
            (PathBuf::from("/var/log"), false)
        );
        assert_eq!(
            fixed_dir("/var/log/app.log"),
            (PathBuf::from("/var/log"), false)
        );
        assert_eq!(
            fixed_dir("/var/log/**/x.log"),
            (PathBuf::from("/var/log"), true)
        );
        assert_eq!(
            fixed_dir("/var/log/pods/*/c/*.log"),
            (PathBuf::from("/var/log/pods"), true)
        );
    }
}
