//! `mysetlist backup list|verify`: what the bucket holds, and a restore drill against the live database.

use std::process::ExitCode;

use crate::config::Config;
use crate::replicate::ReplicatorOptions;
use crate::replicate::verify::LiveComparison;

fn bucket(config: &Config) -> anyhow::Result<ReplicatorOptions> {
    if !config.replication_enabled() {
        anyhow::bail!("replication.url is not set: there are no backups to look at");
    }
    Ok(crate::app::replication::options(config))
}

pub async fn list(config: &Config) -> anyhow::Result<ExitCode> {
    let listing = crate::replicate::list(&bucket(config)?).await?;
    print!("{listing}");
    Ok(ExitCode::SUCCESS)
}

pub async fn verify(config: &Config) -> anyhow::Result<ExitCode> {
    let r = crate::replicate::verify(&bucket(config)?, &config.database_path()).await?;
    println!("backup verified: TXID {}, {} pages, checksum {:016x}", r.txid, r.pages, r.checksum);
    println!("{}", live_comparison(&r.live));
    Ok(ExitCode::SUCCESS)
}

fn live_comparison(live: &LiveComparison) -> String {
    match live {
        LiveComparison::Identical => "the live database is page for page identical at that TXID".into(),
        LiveComparison::LiveAhead { live_pages, restored_pages } => format!(
            "the live database kept committing during the drill ({live_pages} pages now, {restored_pages} in the \
             backup); the restored copy passed its integrity check"
        ),
    }
}
