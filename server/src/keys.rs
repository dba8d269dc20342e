//! API keys: `sy_{id}_{secret}`. The id is public (it names the key in logs); only a blake3
//! hash of the secret is stored, and it is compared in constant time. A key carries its
//! tenant and a role.

use std::fmt;
use std::str::FromStr;

use rand::RngCore as _;

use crate::ServerError;
use crate::store::{Store, now_ms};

/// What a key may do; each role includes the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Reads runs, outputs and balances.
    Viewer,
    /// Also submits and cancels runs.
    Runner,
    /// Also manages the tenant's queue (pause, resume, priorities).
    Admin,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Runner => "runner",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "viewer" => Ok(Role::Viewer),
            "runner" => Ok(Role::Runner),
            "admin" => Ok(Role::Admin),
            other => Err(format!("no role {other:?}; the roles are viewer, runner and admin")),
        }
    }
}

/// Who a request comes from: a key that checked out.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The key's public id (for logs).
    pub key_id: String,
    /// Its tenant: every query is scoped to it.
    pub tenant: String,
    /// What it may do.
    pub role: Role,
}

fn hash(secret: &str) -> String {
    blake3::hash(secret.as_bytes()).to_hex().to_string()
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Tenant names are what wallets are named under, so they are kept plain.
pub(crate) fn check_name(what: &str, name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    match ok {
        true => Ok(()),
        false => Err(format!("{what} {name:?} must be 1 to 64 letters, digits, '-', '_' or '.'")),
    }
}

/// Creates `tenant` if needed and a new key for it; returns the key's id and the token,
/// which is never stored and cannot be shown again.
pub(crate) async fn create(
    store: &Store,
    tenant: &str,
    role: Role,
    expires_at_ms: Option<i64>,
) -> Result<(String, String), ServerError> {
    check_name("tenant", tenant).map_err(ServerError::Invalid)?;
    store.ensure_tenant(tenant).await?;
    let (id, secret) = (random_hex(8), random_hex(32));
    store.insert_key(&id, tenant, &hash(&secret), role.name(), expires_at_ms).await?;
    Ok((id.clone(), format!("sy_{id}_{secret}")))
}

/// A token's id and secret, if it has the shape of one (`sy_`, 16 hex, `_`, 64 hex).
pub fn split_token(token: &str) -> Option<(&str, &str)> {
    let (id, secret) = token.strip_prefix("sy_")?.split_once('_')?;
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(id, 16) && hex(secret, 64)).then_some((id, secret))
}

/// The caller a bearer token belongs to, or `None` for a malformed, unknown, wrong,
/// revoked or expired key (told apart only in the server's own log).
pub(crate) async fn authenticate(store: &Store, token: &str) -> Result<Option<Caller>, ServerError> {
    let Some((id, secret)) = split_token(token) else { return Ok(None) };
    let Some(key) = store.key(id).await? else { return Ok(None) };
    let (Ok(stored), Ok(given)) = (blake3::Hash::from_hex(&key.secret_hash), blake3::Hash::from_hex(hash(secret)))
    else {
        return Ok(None);
    };
    // blake3::Hash compares in constant time.
    if stored != given || key.revoked_at_ms.is_some() || key.expires_at_ms.is_some_and(|t| t <= now_ms()) {
        tracing::info!(key_id = id, "a key was refused");
        return Ok(None);
    }
    let Ok(role) = key.role.parse() else { return Ok(None) };
    Ok(Some(Caller { key_id: id.to_string(), tenant: key.tenant, role }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain() {
        for (name, ok) in [("acme", true), ("acme-studio_2.x", true), ("", false), ("a/b", false), ("é", false)] {
            assert_eq!(check_name("tenant", name).is_ok(), ok, "{name}");
        }
        assert!(check_name("tenant", &"a".repeat(65)).is_err());
    }

    #[test]
    fn roles_read_back_and_order() {
        for role in [Role::Viewer, Role::Runner, Role::Admin] {
            assert_eq!(role.to_string().parse::<Role>(), Ok(role));
        }
        assert!(Role::Viewer < Role::Runner && Role::Runner < Role::Admin);
        assert!("root".parse::<Role>().is_err());
    }
}
