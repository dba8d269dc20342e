//! Typed outcomes: what went wrong, and a stable code for it.

/// The kind of outcome, stable across releases: front ends map it, never the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Code {
    /// The request is invalid (a workflow, a flag, a policy, no placement, a wallet that does
    /// not exist): nothing ran, nothing was spent.
    Invalid,
    /// The run's most does not fit the balance, the budget or a member's cap, or other runs
    /// took the room first: nothing ran, nothing was spent.
    OverBudget,
    /// The store or the machine failed.
    Failed,
}

impl Code {
    /// The command line's exit code.
    pub fn exit_code(self) -> u8 {
        match self {
            Code::Invalid => 2,
            Code::OverBudget => 3,
            Code::Failed => 1,
        }
    }

    /// The HTTP status a server answers with.
    pub fn http_status(self) -> u16 {
        match self {
            Code::Invalid => 400,
            Code::OverBudget => 402,
            Code::Failed => 500,
        }
    }
}

/// A refused or failed step of the pipeline.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SessionError {
    /// The kind.
    pub code: Code,
    /// What, where and how to fix it.
    pub message: String,
}

impl SessionError {
    /// An invalid request.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self { code: Code::Invalid, message: message.into() }
    }

    /// A run that does not fit.
    pub fn over_budget(message: impl Into<String>) -> Self {
        Self { code: Code::OverBudget, message: message.into() }
    }
}

impl From<switchyard_ledger::LedgerError> for SessionError {
    fn from(e: switchyard_ledger::LedgerError) -> Self {
        use switchyard_ledger::LedgerError as L;
        let code = match &e {
            L::InsufficientFunds { .. } | L::MemberCapReached { .. } | L::SpendingPaused { .. } => Code::OverBudget,
            L::Database(_) | L::Migrate(_) => Code::Failed,
            _ => Code::Invalid,
        };
        Self { code, message: e.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_refusals_map_to_stable_codes() {
        use switchyard_ledger::{Credits, LedgerError};
        let short = LedgerError::InsufficientFunds { wallet: "w".into(), available: Credits(1), needed: Credits(9) };
        let cases = [
            (short, Code::OverBudget, 3, 402),
            (LedgerError::UnknownWallet("w".into()), Code::Invalid, 2, 400),
            (LedgerError::InvalidAmount("x".into()), Code::Invalid, 2, 400),
        ];
        for (e, code, exit, http) in cases {
            let s = SessionError::from(e);
            assert_eq!((s.code, s.code.exit_code(), s.code.http_status()), (code, exit, http), "{s}");
        }
    }
}
