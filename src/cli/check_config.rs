//! `mysetlist check-config`: says whether the configuration is valid and prints the settings the
//! server would run with, one `key = value` line per setting (the keys a TOML file or a
//! `MYSETLIST_*` variable would use), secrets redacted.

use std::process::ExitCode;

use serde_json::Value;

use crate::config::{Config, SECRET_KEYS};

pub fn print(config: &Config) -> anyhow::Result<ExitCode> {
    let settings = serde_json::to_value(&config.settings)?;
    println!("configuration is valid\n");
    for (key, value) in lines(&settings) {
        println!("{key} = {value}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The settings as sorted `(dotted key, shown value)` pairs; a secret that is set shows as
/// `<redacted>`, one that is not as `""` (so an operator sees whether it reached the server).
fn lines(settings: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    flatten("", settings, &mut out);
    for (key, value) in &mut out {
        if SECRET_KEYS.contains(&key.as_str()) && value != "\"\"" {
            *value = "<redacted>".into();
        }
    }
    out.sort();
    out
}

fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(fields) => {
            for (name, v) in fields {
                let key = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
                flatten(&key, v, out);
            }
        }
        // JSON's quoting of strings and arrays reads as TOML's for everything settings hold.
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::lines;

    #[test]
    fn settings_print_as_dotted_keys_with_secrets_redacted() {
        let settings = json!({
            "listen": "127.0.0.1:3000",
            "domain": ["a.example", "b.example"],
            "metrics": { "token": "s3cret", "enabled": true },
            "smtp": { "password": "" },
            "http": { "max_body_bytes": 65536 }
        });
        let shown = lines(&settings);
        let text: Vec<String> = shown.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        assert_eq!(
            text,
            [
                r#"domain = ["a.example","b.example"]"#,
                "http.max_body_bytes = 65536",
                r#"listen = "127.0.0.1:3000""#,
                "metrics.enabled = true",
                "metrics.token = <redacted>",
                r#"smtp.password = """#,
            ]
        );
    }
}
