//! `ota audit`: the server's audit log of admin actions, as a table.

use update_core::api::AuditEntry;

use super::ServerArgs;
use crate::display::{Table, printable};

/// What one cell of free text may take on the terminal.
const MAX_CELL: usize = 80;

#[derive(Clone, Debug, clap::Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Newest entries to show (1-1000)
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,
}

/// The entries as a table, oldest first.
pub fn format_audit(entries: &[AuditEntry]) -> String {
    let mut table = Table::new(&[
        "ID", "TIME", "ACTOR", "ACTION", "SUBJECT", "OUTCOME", "SOURCE",
    ]);
    for entry in entries {
        table.push(vec![
            entry.id.to_string(),
            entry.time.format("%Y-%m-%d %H:%M:%SZ").to_string(),
            printable(&entry.actor, MAX_CELL),
            printable(&entry.action, MAX_CELL),
            printable(&entry.subject, MAX_CELL),
            entry.outcome.to_string(),
            printable(entry.source_address.as_deref().unwrap_or("-"), MAX_CELL),
        ]);
    }
    table.render()
}

pub async fn run(args: &AuditArgs) -> anyhow::Result<()> {
    let entries = args.server.client()?.audit(args.limit).await?;
    print!("{}", format_audit(&entries));
    Ok(())
}
