//! Files only the server's own user may read.
//!
//! The store, backups and exports hold parties' names and phone numbers.
//! Whatever the process's umask, the directories the server makes for them
//! are `0700` and the files `0600`, and a store made by an older version
//! with wider permissions is narrowed when it is opened.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Creates `dir` (and missing parents) and makes `dir` itself `0700`.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    set_mode(dir, 0o700)
}

/// Creates (or truncates) `path` for writing, readable by its owner only.
pub fn create_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    // An existing file keeps its mode when opened: narrow it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// Makes every file under `dir` `0600` and every directory `0700`. A file
/// that goes away meanwhile (sled replaces its snapshots) is passed over.
pub fn restrict_tree(dir: &Path) -> io::Result<()> {
    let gone = |e: io::Error| {
        if e.kind() == io::ErrorKind::NotFound {
            Ok(())
        } else {
            Err(e)
        }
    };
    set_mode(dir, 0o700)?;
    for entry in std::fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            restrict_tree(&entry.path()).or_else(gone)?;
        } else if kind.is_file() {
            set_mode(&entry.path(), 0o600).or_else(gone)?;
        }
    }
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_and_directories_are_the_owners_alone() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("a/b");
        create_dir(&inner).unwrap();
        assert_eq!(mode(&inner), 0o700);
        let open = inner.join("open");
        std::fs::write(&open, b"x").unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o666)).unwrap();
        let made = inner.join("made");
        drop(create_file(&made).unwrap());
        assert_eq!(mode(&made), 0o600);
        drop(create_file(&open).unwrap());
        assert_eq!(mode(&open), 0o600, "an existing file is narrowed");
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
        restrict_tree(&dir.path().join("a")).unwrap();
        assert_eq!(mode(&open), 0o600);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
    }
}
