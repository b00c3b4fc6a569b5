//! `mysetlist admin create-user`: the way the first admin account comes to exist.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use super::database::ensure_not_a_standby_copy;
use crate::config::Config;
use crate::db::{Database, DbOptions};
use crate::domain::{Domain, Role};

pub async fn create_user(
    config: Config,
    email: &str,
    password_file: &Path,
    role: &str,
    display_name: &str,
) -> anyhow::Result<ExitCode> {
    ensure_not_a_standby_copy(&config)?;
    let password = std::fs::read_to_string(password_file)
        .with_context(|| format!("cannot read the password file {}", password_file.display()))?;
    let password = password.trim_end_matches(['\n', '\r']);
    let role = Role::parse(role).expect("clap restricts the values");
    let db = Database::open_for_command(&DbOptions::from_config(&config))?;
    let domain = Domain::new(db.clone(), Arc::new(config)).await?;
    let created = domain.create_user_by_operator(email, password, display_name, role).await;
    let stored = match created {
        Ok(id) => domain.user(id).await.map(|u| (id, u.map(|u| u.email).unwrap_or_default())),
        Err(e) => Err(e),
    };
    db.close().await;
    let (id, email) = stored?;
    println!("created {} user {email} (id {id})", role.as_str());
    Ok(ExitCode::SUCCESS)
}
