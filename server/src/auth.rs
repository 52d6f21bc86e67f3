//! Who is calling: turning a bearer token into a [`Caller`].
//!
//! Authentication is a trait so that the enrolled-device authenticator can
//! replace the development one without touching the doors. Tokens arrive as
//! `Authorization: Bearer <token>` on every endpoint, and also as
//! `?token=<token>` on `/v1/ws`, because the JavaScript WebSocket client
//! cannot set headers.

use std::sync::Arc;

use fengqiao_protocol::Scope;

use crate::directory::Directory;
use crate::engine::Caller;

/// An authenticated caller and the records it may see.
#[derive(Debug, Clone)]
pub struct Identity {
    pub caller: Caller,
    /// The scope its syncs cover; `None` for everything (development only).
    pub scope: Option<Scope>,
    /// A name for logs.
    pub label: String,
}

impl Identity {
    /// Whether this caller may read the aggregates (statistics, lists,
    /// exports) of `scope`: only within its own scope.
    pub fn can_read_scope(&self, scope: &Scope) -> bool {
        match &self.caller.access {
            None => true,
            Some(access) => fengqiao_shared::access::can_read_scope(access, scope),
        }
    }

    /// The scope a query covers when the caller names none: its own.
    pub fn default_scope(&self) -> Option<&Scope> {
        self.scope.as_ref()
    }
}

/// Decides who a token belongs to.
pub trait Authenticator: Send + Sync + 'static {
    /// The identity behind `token`, or `None` when the token is not valid.
    fn authenticate(&self, token: &str) -> Option<Identity>;
}

/// **Unsafe outside development**: one shared token with unrestricted
/// read and write access to every record. Enabled only by the explicit
/// `--insecure-dev-token` flag, which logs a warning at start-up.
pub struct InsecureDevToken {
    token: String,
}

impl InsecureDevToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            token: token.into(),
        }
    }
}

/// Compares in time independent of where the inputs first differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Authenticator for InsecureDevToken {
    fn authenticate(&self, token: &str) -> Option<Identity> {
        constant_time_eq(token.as_bytes(), self.token.as_bytes()).then(|| Identity {
            caller: Caller::unrestricted(),
            scope: None,
            label: "insecure-dev-token".to_owned(),
        })
    }
}

/// Enrolled devices, authenticated by their tokens; optionally also the
/// insecure development token.
pub struct DeviceTokens {
    directory: Arc<Directory>,
    dev: Option<InsecureDevToken>,
}

impl DeviceTokens {
    pub fn new(directory: Arc<Directory>, dev: Option<InsecureDevToken>) -> Self {
        Self { directory, dev }
    }
}

impl Authenticator for DeviceTokens {
    fn authenticate(&self, token: &str) -> Option<Identity> {
        if let Some(device) = self.directory.device_by_token(token) {
            return Some(Identity {
                caller: Caller {
                    device: Some(device.id),
                    access: Some(device.access.clone()),
                    connection: None,
                },
                scope: Some(device.access.scope.clone()),
                label: format!("{} ({})", device.label, device.id),
            });
        }
        self.dev.as_ref()?.authenticate(token)
    }
}

/// Refuses every token: the server runs, but nobody can sync until
/// devices can be enrolled or a development token is given.
pub struct NoAccess;

impl Authenticator for NoAccess {
    fn authenticate(&self, _token: &str) -> Option<Identity> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_is_accepted() {
        let auth = InsecureDevToken::new("s3cret");
        assert!(auth.authenticate("s3cret").is_some());
        assert!(auth.authenticate("s3cre").is_none());
        assert!(auth.authenticate("s3creT").is_none());
        assert!(auth.authenticate("").is_none());
        assert!(NoAccess.authenticate("s3cret").is_none());
    }
}
