//! The command line, run as the built binary: creating the first admin, checking a configuration.

use std::process::{Command, Output};

use serde_json::json;

use crate::helpers::*;

/// Runs `mysetlist ARGS` with exactly the given MYSETLIST_* variables (none inherited).
fn mysetlist(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mysetlist"));
    cmd.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("MYSETLIST_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("run the mysetlist binary")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn create_user_makes_an_admin_who_can_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();
    let password_file = dir.path().join("password");
    std::fs::write(&password_file, "a long admin passphrase\n").unwrap();
    let out = mysetlist(
        &[
            "admin",
            "create-user",
            "--email",
            "Root@Example.org",
            "--password-file",
            password_file.to_str().unwrap(),
            "--role",
            "admin",
        ],
        &[("MYSETLIST_DATA_DIR", &data)],
    );
    assert!(out.status.success(), "stdout: {}\nstderr: {}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("root@example.org"), "{}", text(&out.stdout));

    // The same email again is refused, and says why.
    let again = mysetlist(
        &["admin", "create-user", "--email", "root@example.org", "--password-file", password_file.to_str().unwrap()],
        &[("MYSETLIST_DATA_DIR", &data)],
    );
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("already exists"), "{}", text(&again.stderr));

    let app = spawn_app_in(dir, &[]).await;
    let c = app.client();
    let r = c
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": "root@example.org", "password": "a long admin passphrase"}))
        .send()
        .await
        .unwrap();
    let me = ok_json(r).await;
    assert_eq!(me["role"], "admin");
    assert_eq!(c.get(app.url("/api/v1/admin/users")).send().await.unwrap().status(), 200);
    let audit = ok_json(c.get(app.url("/api/v1/admin/audit")).send().await.unwrap()).await;
    let created = audit.as_array().unwrap().iter().find(|e| e["action"] == "user.create_cli").expect("audited");
    assert_eq!(created["target_id"], me["id"].to_string());
    assert_eq!(created["actor_id"], json!(null), "the CLI acts as the system");
    app.stop().await;
}

#[test]
fn create_user_refuses_weak_passwords_and_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();
    let weak = dir.path().join("weak");
    std::fs::write(&weak, "password123").unwrap();
    let out = mysetlist(
        &["admin", "create-user", "--email", "a@example.org", "--password-file", weak.to_str().unwrap()],
        &[("MYSETLIST_DATA_DIR", &data)],
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("password"), "{}", text(&out.stderr));

    let missing = dir.path().join("no-such-file");
    let out = mysetlist(
        &["admin", "create-user", "--email", "a@example.org", "--password-file", missing.to_str().unwrap()],
        &[("MYSETLIST_DATA_DIR", &data)],
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains(&missing.display().to_string()), "{}", text(&out.stderr));

    let out = mysetlist(
        &[
            "admin",
            "create-user",
            "--email",
            "a@example.org",
            "--password-file",
            weak.to_str().unwrap(),
            "--role",
            "god",
        ],
        &[("MYSETLIST_DATA_DIR", &data)],
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("god"), "{}", text(&out.stderr));
}

#[test]
fn check_config_names_a_bad_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();

    let ok = mysetlist(&["check-config"], &[("MYSETLIST_DATA_DIR", &data)]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));

    // An unknown key from the environment.
    let out = mysetlist(&["check-config"], &[("MYSETLIST_DATA_DIR", &data), ("MYSETLIST_VOTING__ANONYMUS", "true")]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("voting.anonymus"), "{}", text(&out.stderr));

    // An unknown key in a TOML file.
    let file = dir.path().join("mysetlist.toml");
    std::fs::write(&file, "[http]\nmax_body = 10\n").unwrap();
    let out = mysetlist(&["check-config", "--config", file.to_str().unwrap()], &[("MYSETLIST_DATA_DIR", &data)]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("http.max_body"), "{}", text(&out.stderr));

    // A known key with a bad value.
    let out = mysetlist(&["check-config"], &[("MYSETLIST_DATA_DIR", &data), ("MYSETLIST_LISTEN", "nowhere")]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("listen"), "{}", text(&out.stderr));

    // A secret is never printed.
    let out = mysetlist(
        &["check-config"],
        &[("MYSETLIST_DATA_DIR", &data), ("MYSETLIST_METRICS__TOKEN", "s3cret-token-value")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains("s3cret-token-value"));
    // Settings print as the keys an operator writes, not as Rust's debug output.
    assert!(text(&out.stdout).contains("metrics.token = <redacted>\n"), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains(&format!("data_dir = \"{data}\"\n")), "{}", text(&out.stdout));
    assert!(!text(&out.stdout).contains("Settings {"), "{}", text(&out.stdout));
}

#[test]
fn serve_prints_where_to_open_it_and_takes_listen() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut cmd = crate::server_process::command(env!("CARGO_BIN_EXE_mysetlist"), dir.path());
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")]).stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    // A reader thread, so the wait on the first line is bounded.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(std::time::Duration::from_secs(30));
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(line.unwrap().trim_end(), format!("MySetlist is running. Open http://127.0.0.1:{port}/"));
}

#[tokio::test]
async fn serve_demo_prints_a_one_time_sign_in_for_the_demo_admin() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut cmd = crate::server_process::command(env!("CARGO_BIN_EXE_mysetlist"), dir.path());
    cmd.args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")]).stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    // A reader thread, so the wait on the first two lines is bounded.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = std::io::BufReader::new(stdout);
        for _ in 0..2 {
            let mut line = String::new();
            let _ = std::io::BufRead::read_line(&mut reader, &mut line);
            let _ = tx.send(line);
        }
    });
    let wait = std::time::Duration::from_secs(30);
    let (first, second) = (rx.recv_timeout(wait), rx.recv_timeout(wait));
    let base = format!("http://127.0.0.1:{port}");
    let outcome = async {
        assert_eq!(first.unwrap().trim_end(), format!("MySetlist is running. Open {base}/"));
        let second = second.unwrap();
        let prefix = format!("Demo admin (admin@demo.invalid): set its password and sign in once at {base}/reset/");
        assert!(second.starts_with(&prefix), "{second}");
        // The link opens the form for the demo admin; setting a password signs in as an admin.
        let link = second.trim_end().rsplit(' ').next().unwrap().to_owned();
        let browser =
            reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let (status, form) = get_html(&browser, &link).await;
        assert_eq!(status, 200);
        assert!(form.contains("admin@demo.invalid"), "{form}");
        let token = form_value(&form, "csrf").unwrap();
        let r = browser
            .post(&link)
            .form(&[("csrf", token.as_str()), ("new_password", "a demo admin passphrase")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        assert_eq!(browser.get(format!("{base}/admin/users")).send().await.unwrap().status(), 200);
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    outcome
}
