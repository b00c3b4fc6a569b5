use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn defaults_need_nothing() {
    let c = load_from(None, &[]).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.database_path(), PathBuf::from("./data/mysetlist.db"));
    assert!(!c.https_enabled());
    assert!(!c.replication_enabled());
}

#[test]
fn env_overrides_and_nests() {
    let c = load_from(
        None,
        &env(&[
            ("MYSETLIST_LISTEN", "0.0.0.0:9000"),
            ("MYSETLIST_REPLICATION__URL", "s3://bucket/db"),
            ("MYSETLIST_REPLICATION__SYNC_INTERVAL", "250ms"),
            ("MYSETLIST_DOMAIN", "a.example, b.example"),
            ("MYSETLIST_ACME__EMAIL", "ops@example.org"),
            ("MYSETLIST_VOTING__ANONYMOUS", "true"),
        ]),
    )
    .unwrap();
    assert_eq!(c.listen.port(), 9000);
    assert_eq!(c.settings.replication.sync_interval, Duration::from_millis(250));
    assert_eq!(c.settings.domain, vec!["a.example", "b.example"]);
    assert!(c.settings.voting.anonymous);
}

#[test]
fn unknown_keys_are_named() {
    let err = load_from(None, &env(&[("MYSETLIST_REPLICATION__URLL", "x")])).unwrap_err();
    assert!(err.to_string().contains("replication.urll"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.toml");
    std::fs::write(&f, "[voting]\nanonymus = true\n").unwrap();
    let err = load_from(Some(&f), &[]).unwrap_err();
    assert!(err.to_string().contains("voting.anonymus"), "{err}");
}

#[test]
fn bad_values_name_the_key() {
    let err = load_from(None, &env(&[("MYSETLIST_LISTEN", "nope")])).unwrap_err();
    assert!(err.to_string().contains("`listen`"), "{err}");
    let err = load_from(None, &env(&[("MYSETLIST_REPLICATION__URL", "http://x")])).unwrap_err();
    assert!(err.to_string().contains("replication.url"), "{err}");
    let err = load_from(None, &env(&[("MYSETLIST_REPLICATION__ACK", "maybe")])).unwrap_err();
    assert!(err.to_string().contains("replication.ack"), "{err}");
    let err = load_from(None, &env(&[("MYSETLIST_DOMAIN", "vote.example")])).unwrap_err();
    assert!(err.to_string().contains("acme.email"), "{err}");
    let err = load_from(None, &env(&[("MYSETLIST_FAILOVER__LEASE_TTL", "500ms")])).unwrap_err();
    assert!(err.to_string().contains("failover.lease_ttl"), "{err}");
}

#[test]
fn secrets_from_files_and_never_in_debug() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("s");
    std::fs::write(&secret, "hunter2-secret\n").unwrap();
    let c = load_from(
        None,
        &env(&[
            ("MYSETLIST_REPLICATION__URL", "s3://bucket/db"),
            ("MYSETLIST_REPLICATION__SECRET_ACCESS_KEY_FILE", secret.to_str().unwrap()),
        ]),
    )
    .unwrap();
    assert_eq!(c.settings.replication.secret_access_key.expose(), "hunter2-secret");
    assert!(!format!("{c:?}").contains("hunter2"));

    let f = dir.path().join("c.toml");
    std::fs::write(&f, format!("[metrics]\ntoken_file = \"{}\"\n", secret.display())).unwrap();
    let c = load_from(Some(&f), &[]).unwrap();
    assert_eq!(c.settings.metrics.token.expose(), "hunter2-secret");

    let err = load_from(None, &env(&[("MYSETLIST_LISTEN_FILE", "/x")])).unwrap_err();
    assert!(err.to_string().contains("listen_file"), "{err}");
    let c = load_from(None, &env(&[("MYSETLIST_ACME__CA_FILE", "/etc/ca.pem")])).unwrap();
    assert_eq!(c.settings.acme.ca_file, "/etc/ca.pem");
}

#[test]
fn toml_file_is_merged_below_env() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.toml");
    std::fs::write(&f, "listen = \"127.0.0.1:7000\"\ndata_dir = \"/var/lib/x\"\n").unwrap();
    let c = load_from(Some(&f), &env(&[("MYSETLIST_LISTEN", "127.0.0.1:7001")])).unwrap();
    assert_eq!(c.listen.port(), 7001);
    assert_eq!(c.settings.data_dir, PathBuf::from("/var/lib/x"));
}

#[test]
fn allowed_origins_follow_public_url_then_domains() {
    let c = load_from(None, &[]).unwrap();
    assert!(c.allowed_origins.is_empty(), "plain HTTP: the request's own Host");
    let c =
        load_from(None, &env(&[("MYSETLIST_DOMAIN", "Vote.example.org"), ("MYSETLIST_ACME__EMAIL", "a@b.c")])).unwrap();
    assert_eq!(c.allowed_origins, ["https://vote.example.org"]);
    let c = load_from(None, &env(&[("MYSETLIST_PUBLIC_URL", "https://Vote.example.org:8443/")])).unwrap();
    assert_eq!(c.allowed_origins, ["https://vote.example.org:8443"]);
    for bad in ["vote.example.org", "ftp://x.example", "https://x.example/app"] {
        let err = load_from(None, &env(&[("MYSETLIST_PUBLIC_URL", bad)])).unwrap_err();
        assert!(err.to_string().contains("public_url"), "{bad}: {err}");
    }
}

#[test]
fn smtp_is_off_by_default_and_refuses_clear_text_beyond_loopback() {
    assert!(!load_from(None, &[]).unwrap().mail_enabled());
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("p");
    std::fs::write(&secret, "mail-secret\n").unwrap();
    let f = dir.path().join("c.toml");
    std::fs::write(
        &f,
        format!(
            "public_url = \"https://vote.example.org\"\n[smtp]\nhost = \"smtp.example.org\"\nusername = \"app\"\npassword_file = \"{}\"\nfrom = \"MySetlist <noreply@example.org>\"\n",
            secret.display()
        ),
    )
    .unwrap();
    let c = load_from(Some(&f), &[]).unwrap();
    assert!(c.mail_enabled());
    assert_eq!((c.settings.smtp.port, c.settings.smtp.tls), (587, SmtpTls::Starttls));
    assert_eq!(c.settings.smtp.password.expose(), "mail-secret");
    assert!(!format!("{c:?}").contains("mail-secret"));

    let clear = |host: &str| {
        load_from(
            None,
            &env(&[
                ("MYSETLIST_SMTP__HOST", host),
                ("MYSETLIST_SMTP__TLS", "none"),
                ("MYSETLIST_SMTP__FROM", "noreply@example.org"),
                ("MYSETLIST_PUBLIC_URL", "https://vote.example.org"),
            ]),
        )
    };
    for loopback in ["127.0.0.1", "localhost", "::1"] {
        clear(loopback).unwrap_or_else(|e| panic!("{loopback}: {e}"));
    }
    let err = clear("smtp.example.org").unwrap_err();
    assert!(err.to_string().contains("smtp.tls"), "{err}");
    let err = load_from(None, &env(&[("MYSETLIST_SMTP__HOST", "smtp.example.org")])).unwrap_err();
    assert!(err.to_string().contains("smtp.from"), "{err}");
    let err = load_from(
        None,
        &env(&[("MYSETLIST_SMTP__HOST", "smtp.example.org"), ("MYSETLIST_SMTP__FROM", "noreply@example.org")]),
    )
    .unwrap_err();
    assert!(err.to_string().contains("public_url"), "{err}");
}

#[test]
fn debug_output_names_every_secret_but_shows_none() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("s");
    std::fs::write(&secret, "file-secret-7\n").unwrap();
    let f = dir.path().join("c.toml");
    std::fs::write(
        &f,
        format!(
            "[replication]\nurl = \"s3://bucket/db\"\naccess_key_id = \"toml-secret-1\"\nsecret_access_key_file = \"{}\"\n\
             [metrics]\ntoken = \"toml-secret-2\"\n[import]\nsetlistfm_api_key = \"toml-secret-3\"\n\
             [alerts]\nwebhook_url = \"https://hooks.example/toml-secret-4\"\n\
             [telemetry]\nsentry_dsn = \"https://toml-secret-5@sentry.example/1\"\n\
             [smtp]\nhost = \"smtp.example.org\"\nusername = \"app\"\npassword = \"toml-secret-6\"\nfrom = \"a@example.org\"\n",
            secret.display()
        ),
    )
    .unwrap();
    let c = load_from(Some(&f), &env(&[("MYSETLIST_PUBLIC_URL", "https://vote.example.org")])).unwrap();
    assert_eq!(c.settings.replication.secret_access_key.expose(), "file-secret-7");
    assert_eq!(c.settings.smtp.password.expose(), "toml-secret-6");
    let shown = format!("{c:?}");
    assert!(!shown.contains("secret-"), "{shown}");
    for key in
        ["access_key_id", "secret_access_key", "token", "setlistfm_api_key", "webhook_url", "sentry_dsn", "password"]
    {
        assert!(shown.contains(&format!("{key}: \"<redacted>\"")), "{key} in {shown}");
    }
    assert!(
        format!("{:?}", load_from(None, &[]).unwrap()).contains("sentry_dsn: \"\""),
        "an unset secret shows as empty"
    );
}
