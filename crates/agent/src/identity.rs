//! The logger's identity with the server: the device key issued at first registration and the
//! claim code, kept in a file only the agent's user may read (mode 0600), because the key is all
//! it takes to report as this logger.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::journal::replace_file;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub logger_id: String,
    /// `None` for a logger an admin allowed to report without a key.
    pub device_key: Option<String>,
    /// While the logger waits to be claimed, the code an admin types in to claim it.
    pub claim_code: Option<String>,
}

/// Where the identity lives, and the rules for reading it.
#[derive(Debug, Clone)]
pub struct KeyFile {
    path: PathBuf,
}

impl KeyFile {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored identity; `None` if there is none yet (first start). A file that exists but
    /// cannot be read or understood is an error: registering again would be refused anyway
    /// (the server knows this logger), so the operator has to look.
    pub fn load(&self) -> Result<Option<Identity>, String> {
        let shown = self.path.display();
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read the key file {shown}: {e}")),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("the key file {shown} is damaged ({e}): restore it, or delete it and have an admin delete the logger on the server so it can register anew"))
    }

    /// Stores the identity atomically, readable by this user only.
    pub fn save(&self, identity: &Identity) -> io::Result<()> {
        let dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let name = self
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| io::Error::other("the key file path has no file name"))?;
        let body = serde_json::to_vec_pretty(identity).map_err(io::Error::other)?;
        replace_file(dir, name, &body, Some(0o600))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_key_is_kept_for_its_user_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = KeyFile::new(dir.path().join("sub/identity.json"));
        assert_eq!(file.load(), Ok(None));
        let id = Identity {
            logger_id: "pi-1".into(),
            device_key: Some("ald_secret".into()),
            claim_code: Some("K7QH2MZP".into()),
        };
        file.save(&id).unwrap();
        assert_eq!(file.load(), Ok(Some(id)));
        let mode = std::fs::metadata(file.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_damaged_or_unreadable_key_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.json");
        std::fs::write(&garbage, "not json").unwrap();
        let err = KeyFile::new(garbage).load().unwrap_err();
        assert!(err.contains("is damaged"), "{err}");
        // A directory where the file should be cannot be read, even by root.
        let err = KeyFile::new(dir.path().to_owned()).load().unwrap_err();
        assert!(err.contains("cannot read the key file"), "{err}");
    }
}
