//! API keys: `sy_{id}_{secret}`. The id is public (it names the key in logs); only a blake3
//! hash of the secret is stored, and it is compared in constant time. A key carries its
//! tenant and a role.

use std::fmt;
use std::str::FromStr;

use rand::RngCore as _;

use crate::ServerError;
use crate::store::{Store, now_ms};

/// What a key is for. Each role is a set of [`Permission`]s; admin holds them all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Reads runs, outputs and balances.
    Viewer,
    /// Also submits and cancels runs, and uploads inputs.
    Runner,
    /// A runner who also changes the team's workflows in its library.
    Editor,
    /// An editor who also releases the library's templates.
    Publisher,
    /// Reads everything, and manages wallets: grants, top-ups, members' caps. Runs nothing.
    Billing,
    /// Everything: also the queue (pause, resume, priorities) and the tenant's API keys.
    Admin,
    /// The platform's billing operator: the review queue and reconciliation across every
    /// tenant (`/v1/ops/…` only). Made by the server's operator only (`serve --create-key
    /// ops --role operator`), never through `/v1/keys`.
    Operator,
    /// A render-farm worker that joins through the server: the worker protocol only, for
    /// every tenant's farm tasks, and nothing of any tenant's API. Made by the server's
    /// operator only (`serve --create-key farm --role worker`), never through `/v1/keys`.
    Worker,
}

/// One thing a key may be allowed to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// Read runs, outputs, events, balances and catalogs.
    Read,
    /// Submit and cancel runs; upload inputs.
    Run,
    /// Change the team's workflows.
    Edit,
    /// Release, deprecate and withdraw templates.
    Publish,
    /// Pause and resume the queue; change priorities.
    Queue,
    /// Grants, top-ups, accounts and members' caps.
    Billing,
    /// Make, list and revoke API keys; see the server machine (`doctor`).
    Admin,
    /// Claim, run and report farm tasks (the worker protocol).
    Work,
    /// Decide reviews and reconcile, across tenants (the operator's `/v1/ops`).
    Operate,
}

impl Role {
    const ALL: [Role; 8] = [
        Role::Viewer,
        Role::Runner,
        Role::Editor,
        Role::Publisher,
        Role::Billing,
        Role::Admin,
        Role::Operator,
        Role::Worker,
    ];

    fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Runner => "runner",
            Role::Editor => "editor",
            Role::Publisher => "publisher",
            Role::Billing => "billing",
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Worker => "worker",
        }
    }

    /// Whether the role allows `p`.
    pub fn may(self, p: Permission) -> bool {
        use Permission as P;
        matches!(
            (self, p),
            (Role::Worker, P::Work)
                | (Role::Operator, P::Operate)
                | (Role::Admin, P::Read | P::Run | P::Edit | P::Publish | P::Queue | P::Billing | P::Admin)
                | (Role::Viewer | Role::Runner | Role::Editor | Role::Publisher | Role::Billing, P::Read)
                | (Role::Runner | Role::Editor | Role::Publisher, P::Run)
                | (Role::Editor | Role::Publisher, P::Edit)
                | (Role::Publisher, P::Publish)
                | (Role::Billing, P::Billing)
        )
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
        Role::ALL.into_iter().find(|r| r.name() == text).ok_or_else(|| {
            format!(
                "no role {text:?}; the roles are viewer, runner, editor, publisher, billing, admin, operator and worker"
            )
        })
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
    /// The team member it spends as, if it is a member's key: its runs charge that member's
    /// cap, whatever the request says.
    pub member: Option<String>,
}

fn hash(secret: &str) -> String {
    blake3::hash(secret.as_bytes()).to_hex().to_string()
}

pub(crate) fn random_hex(bytes: usize) -> String {
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
    member: Option<&str>,
) -> Result<(String, String), ServerError> {
    check_name("tenant", tenant).map_err(ServerError::Invalid)?;
    if let Some(m) = member {
        check_name("member", m).map_err(ServerError::Invalid)?;
    }
    store.ensure_tenant(tenant).await?;
    let (id, secret) = (random_hex(8), random_hex(32));
    store.insert_key(&id, tenant, &hash(&secret), role.name(), expires_at_ms, member).await?;
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
    Ok(Some(Caller { key_id: id.to_string(), tenant: key.tenant, role, member: key.member }))
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
    fn roles_read_back_and_grant_their_permissions() {
        use Permission as P;
        for role in Role::ALL {
            assert_eq!(role.to_string().parse::<Role>(), Ok(role));
        }
        let table = [
            (Role::Viewer, [true, false, false, false, false, false, false, false, false]),
            (Role::Runner, [true, true, false, false, false, false, false, false, false]),
            (Role::Editor, [true, true, true, false, false, false, false, false, false]),
            (Role::Publisher, [true, true, true, true, false, false, false, false, false]),
            (Role::Billing, [true, false, false, false, false, true, false, false, false]),
            (Role::Admin, [true, true, true, true, true, true, true, false, false]),
            (Role::Operator, [false, false, false, false, false, false, false, false, true]),
            (Role::Worker, [false, false, false, false, false, false, false, true, false]),
        ];
        for (role, allowed) in table {
            let asked = [P::Read, P::Run, P::Edit, P::Publish, P::Queue, P::Billing, P::Admin, P::Work, P::Operate];
            for (p, want) in asked.into_iter().zip(allowed) {
                assert_eq!(role.may(p), want, "{role} {p:?}");
            }
        }
        assert!(
            "root"
                .parse::<Role>()
                .unwrap_err()
                .contains("viewer, runner, editor, publisher, billing, admin, operator and worker")
        );
    }
}
