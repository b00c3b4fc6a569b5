//! Outgoing mail against a real SMTP server on loopback: Python's aiosmtpd (installed by
//! scripts/install-test-deps.sh), which stores every message it receives in a Maildir the test reads.
//! Arrivals are polled for with bounded timeouts.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mysetlist::db::jobs::JobOutcome;
use mysetlist::domain::Role;

use crate::helpers::*;
use crate::server_process::{self, ServerProcess};

const WAIT: Duration = Duration::from_secs(15);
const ORIGIN: &str = "http://mysetlist.test";

/// aiosmtpd on 127.0.0.1, writing each message to `<dir>/new/` (Maildir), stopped on drop.
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

fn aiosmtpd() -> PathBuf {
    let tools = std::env::var_os("MYSETLIST_TOOLS_DIR").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/mysetlist-tools")
    });
    let bin = tools.join("aiosmtpd-1.4.6/bin/aiosmtpd");
    assert!(bin.exists(), "{} is missing: run scripts/install-test-deps.sh", bin.display());
    bin
}

/// A loopback port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new(aiosmtpd())
            .args(["-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.path().join("mail"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let server = SmtpServer { child, port, dir };
        let deadline = std::time::Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "aiosmtpd did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// The settings that send mail here.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("MYSETLIST_SMTP__HOST", "127.0.0.1".into()),
            ("MYSETLIST_SMTP__PORT", self.port.to_string()),
            ("MYSETLIST_SMTP__TLS", "none".into()),
            ("MYSETLIST_SMTP__FROM", "MySetlist <noreply@mysetlist.test>".into()),
            ("MYSETLIST_PUBLIC_URL", ORIGIN.into()),
        ]
    }

    /// Every message received so far.
    pub fn messages(&self) -> Vec<Mail> {
        let Ok(entries) = std::fs::read_dir(self.dir.path().join("mail/new")) else { return Vec::new() };
        let mut out: Vec<Mail> =
            entries.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok()).map(|raw| Mail::parse(&raw)).collect();
        out.sort_by(|a, b| a.raw.cmp(&b.raw));
        out
    }

    /// Waits until `n` messages have arrived (bounded) and returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Mail> {
        let got = wait_for(WAIT, || async {
            let m = self.messages();
            (m.len() >= n).then_some(m)
        })
        .await;
        got.unwrap_or_else(|| panic!("expected {n} messages, have {:?}", self.messages()))
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One received message: its headers (names lowercased) and its decoded body.
#[derive(Debug, Clone)]
pub struct Mail {
    pub raw: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Mail {
    fn parse(raw: &str) -> Mail {
        let raw = raw.replace("\r\n", "\n");
        let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.lines() {
            if line.starts_with([' ', '\t']) {
                if let Some(last) = headers.last_mut() {
                    last.1.push_str(line.trim_start());
                }
            } else if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        let qp =
            headers.iter().any(|(k, v)| k == "content-transfer-encoding" && v.eq_ignore_ascii_case("quoted-printable"));
        let body = if qp { quoted_printable(body) } else { body.to_owned() };
        Mail { raw: raw.clone(), headers, body }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The first link to `ORIGIN<prefix>...` in the body, as a path.
    pub fn link(&self, prefix: &str) -> Option<String> {
        let start = self.body.find(&format!("{ORIGIN}{prefix}"))? + ORIGIN.len();
        let rest = &self.body[start..];
        let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
        Some(rest[..end].to_owned())
    }
}

fn quoted_printable(s: &str) -> String {
    let s = s.replace("=\n", "");
    let mut out = Vec::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn env_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// POSTs the "Forgot password?" form for `email`: the status and the page.
async fn forgot(app: &TestApp, c: &reqwest::Client, email: &str) -> (u16, String) {
    let token = csrf(c, &app.url("/forgot")).await;
    let r = c.post(app.url("/forgot")).form(&[("csrf", token.as_str()), ("email", email)]).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn forgot_password_is_offered_only_when_mail_is_configured() {
    let app = spawn_app().await;
    let (_, login) = get_html(&app.client(), &app.url("/login")).await;
    assert!(!login.contains("/forgot"), "no mail server, no link");
    assert_eq!(app.client().get(app.url("/forgot")).send().await.unwrap().status(), 404);
    app.stop().await;

    let smtp = SmtpServer::start();
    let app = spawn_app_with(&env_refs(&smtp.env())).await;
    let (_, login) = get_html(&app.client(), &app.url("/login")).await;
    assert!(login.contains("href=\"/forgot\""), "the sign-in page links to it");
    app.stop().await;
}

#[tokio::test]
async fn forgot_password_emails_one_working_link_to_an_account_and_nothing_for_an_unknown_address() {
    let smtp = SmtpServer::start();
    let app = spawn_app_with(&env_refs(&smtp.env())).await;
    let user = app.user("fan@example.org", Role::User).await;
    let c = app.client();

    // The unknown address first: both requests go through the one writer in order, so once the
    // known address's email has arrived, the unknown one's lookup is long done.
    let unknown = forgot(&app, &c, "nobody@example.org").await;
    let known = forgot(&app, &c, "FAN@example.org").await;
    assert_eq!(known.0, 200, "{}", known.1);
    assert_eq!(unknown, known, "the same answer whether or not the account exists");
    assert!(known.1.contains("If an account exists for that address, we sent a link"));

    let mails = smtp.wait_for(1).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert!(mail.header("to").is_some_and(|t| t.contains("fan@example.org")), "{mail:?}");
    assert!(mail.header("list-unsubscribe").is_none(), "a reset link is not a newsletter");
    let link = mail.link("/reset/").unwrap_or_else(|| panic!("no reset link in {mail:?}"));

    // The link works like an admin's: once.
    let (status, page) = get_html(&c, &app.url(&link)).await;
    assert_eq!(status, 200);
    assert!(page.contains("fan@example.org"));
    let token = form_value(&page, "csrf").unwrap();
    let form = [("csrf", token.as_str()), ("new_password", "a brand new passphrase")];
    let r = c.post(app.url(&link)).form(&form).send().await.unwrap();
    assert_eq!((r.status().as_u16(), location(&r)), (303, "/account?done=reset".to_owned()));
    app.domain().authenticate(&user.email, "a brand new passphrase", [127, 0, 0, 1].into()).await.unwrap();
    let (status, gone) = get_html(&c, &app.url(&link)).await;
    assert_eq!(status, 404, "used once");
    assert!(gone.contains("Forgot password?"), "a used link points to a new one");
    assert_eq!(smtp.messages().len(), 1, "nothing else was sent");
    app.stop().await;
}

#[tokio::test]
async fn forgot_password_is_limited_per_email_address_and_per_client_address() {
    let smtp = SmtpServer::start();
    let mut env = smtp.env();
    env.push(("MYSETLIST_RATE_LIMIT__PASSWORD_RESETS_PER_HOUR", "2".into()));
    env.push(("MYSETLIST_HTTP__TRUSTED_PROXIES", "127.0.0.1/32".into()));
    let app = spawn_app_with(&env_refs(&env)).await;
    app.user("fan@example.org", Role::User).await;
    let c = app.client();
    let post = |ip: &'static str, email: &'static str| {
        let (app, c) = (&app, &c);
        async move {
            let token = csrf(c, &app.url("/forgot")).await;
            let r = c
                .post(app.url("/forgot"))
                .header("x-forwarded-for", ip)
                .form(&[("csrf", token.as_str()), ("email", email)])
                .send()
                .await
                .unwrap();
            r.status().as_u16()
        }
    };
    // One address from three clients: the third request for it is refused.
    assert_eq!(post("198.51.100.1", "fan@example.org").await, 200);
    assert_eq!(post("198.51.100.2", "fan@example.org").await, 200);
    assert_eq!(post("198.51.100.3", "fan@example.org").await, 429);
    // One client asking for three addresses: its third request is refused.
    assert_eq!(post("203.0.113.9", "a@example.org").await, 200);
    assert_eq!(post("203.0.113.9", "b@example.org").await, 200);
    assert_eq!(post("203.0.113.9", "c@example.org").await, 429);
    assert_eq!(smtp.wait_for(2).await.len(), 2, "two links for the two accepted requests");
    app.stop().await;
}

#[tokio::test]
async fn an_unreachable_mail_server_changes_nothing_for_the_visitor_and_is_logged() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let mut cmd = server_process::command(server_process::binary(), data.path());
    cmd.arg("serve")
        .env("MYSETLIST_SMTP__HOST", "127.0.0.1")
        .env("MYSETLIST_SMTP__PORT", &port)
        .env("MYSETLIST_SMTP__TLS", "none")
        .env("MYSETLIST_SMTP__FROM", "noreply@mysetlist.test")
        .env("MYSETLIST_PUBLIC_URL", ORIGIN);
    let server = ServerProcess::start(cmd);
    let c = reqwest::Client::builder().cookie_store(true).timeout(Duration::from_secs(20)).build().unwrap();
    let signup = serde_json::json!({"email": "fan@example.org", "password": "correct horse battery"});
    let r = c.post(server.url("/api/v1/auth/signup")).json(&signup).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());

    let mut answers = Vec::new();
    for email in ["nobody@example.org", "fan@example.org"] {
        let token = csrf(&c, &server.url("/forgot")).await;
        let r = c.post(server.url("/forgot")).form(&[("csrf", token.as_str()), ("email", email)]).send().await.unwrap();
        answers.push((r.status().as_u16(), r.text().await.unwrap()));
    }
    assert_eq!(answers[0].0, 200);
    assert_eq!(answers[0], answers[1], "the same answer, the failure is not shown");
    let logged = wait_for(WAIT, || async {
        server.lines().into_iter().find(|l| l.contains("a password reset email could not be sent"))
    })
    .await;
    let line = logged.expect("the failure is logged");
    assert!(line.contains("\"level\":\"ERROR\""), "{line}");
    let r = c.get(server.url("/login")).send().await.unwrap();
    assert_eq!(r.status(), 200, "still serving");
    server.stop();
}

/// Sets a follow-email choice through the account page's form.
async fn opt_in(app: &TestApp, c: &reqwest::Client, boxes: &[&str]) {
    let (status, page) = get_html(c, &app.url("/account")).await;
    assert_eq!(status, 200);
    assert!(page.contains("Emails about artists you follow"), "the account page offers the choices");
    let token = form_value(&page, "csrf").unwrap();
    let mut form = vec![("csrf", token.as_str())];
    form.extend(boxes.iter().map(|b| (*b, "on")));
    let r = c.post(app.url("/account/emails")).form(&form).send().await.unwrap();
    assert_eq!((r.status().as_u16(), location(&r)), (303, "/account?done=emails".to_owned()));
}

#[tokio::test]
async fn follow_emails_go_once_per_kind_only_to_those_who_opted_in_and_unsubscribe_in_one_click() {
    let smtp = SmtpServer::start();
    let app = spawn_app_with(&env_refs(&smtp.env())).await;
    let d = app.domain().clone();
    // A show from before anyone followed: never announced as new.
    let old = app.seed_show(chrono::Duration::days(3), 2).await;
    app.db_write("UPDATE shows SET created_at = created_at - 3600 WHERE id = ?1", [old.show_id]);
    let artist = old.artist_id;
    let fan = app.user("fan@example.org", Role::User).await;
    let picky = app.user("picky@example.org", Role::User).await;
    let silent = app.user("silent@example.org", Role::User).await;
    for u in [&fan, &picky, &silent] {
        d.set_follow(u.id, artist, true).await.unwrap();
    }
    let fan_client = app.session_client(&fan).await;
    opt_in(&app, &fan_client, &["new_show", "voting_closes", "setlist_in"]).await;
    opt_in(&app, &app.session_client(&picky).await, &["setlist_in"]).await;
    assert_eq!(d.email_prefs(&silent).await.unwrap(), Default::default(), "everything is off by default");

    // The artist's new shows: one in three days, one tomorrow morning, one that was last night.
    let admin =
        mysetlist::domain::CurrentUser { id: 0, email: "s".into(), display_name: "s".into(), role: Role::Admin };
    let show = |hours: i64| mysetlist::domain::ShowInput {
        artist_id: artist,
        venue_id: old.venue_id,
        starts_at: (chrono::Utc::now() + chrono::Duration::hours(hours)).to_rfc3339(),
        title: format!("in {hours} h"),
        ..Default::default()
    };
    let later = d.create_show(&admin, show(72)).await.unwrap();
    let tomorrow = d.create_show(&admin, show(12)).await.unwrap();
    let last_night = d.create_show(&admin, show(-5)).await.unwrap();
    app.db_write("INSERT INTO setlist_entries (show_id, position, title) VALUES (?1, 1, 'Song 0')", [last_night]);

    // fan: new show x2, voting closes, setlist in; picky: setlist in; silent: nothing. Twice: once.
    assert_eq!(d.send_follow_emails().await.unwrap(), 5);
    assert_eq!(d.send_follow_emails().await.unwrap(), 0, "the second run sends nothing again");
    let mails = smtp.wait_for(5).await;
    assert_eq!(mails.len(), 5, "{mails:?}");
    let to = |who: &str| mails.iter().filter(|m| m.header("to").is_some_and(|t| t.contains(who))).collect::<Vec<_>>();
    let mut subjects: Vec<String> =
        to("fan@").iter().map(|m| m.header("subject").unwrap().split(':').next().unwrap().to_owned()).collect();
    subjects.sort();
    assert_eq!(subjects, ["New show", "New show", "The setlist is in", "Voting closes in about a day"]);
    assert_eq!(to("picky@").len(), 1);
    assert!(to("picky@")[0].header("subject").unwrap().starts_with("The setlist is in"));
    assert!(to("silent@").is_empty(), "no opt-in, no email");
    assert_eq!(app.count("SELECT count(*) FROM emails_sent", []), 5);
    let _ = (later, tomorrow);
    let export = ok_json(fan_client.get(app.url("/api/v1/me/export")).send().await.unwrap()).await;
    assert_eq!(export["email_preferences"]["voting_closes"], true, "{export}");
    assert_eq!(export["emails_sent"].as_array().map(Vec::len), Some(4), "{export}");

    // Every message: RFC 8058 headers and the same link in the text.
    for m in &mails {
        let header = m.header("list-unsubscribe").unwrap_or_else(|| panic!("no List-Unsubscribe in {m:?}"));
        assert!(header.starts_with(&format!("<{ORIGIN}/unsubscribe/")), "{header}");
        assert_eq!(m.header("list-unsubscribe-post"), Some("List-Unsubscribe=One-Click"));
        let link = m.link("/unsubscribe/").expect("the link is in the text too");
        assert_eq!(header, format!("<{ORIGIN}{link}>"));
    }

    // One click: GET shows a button and changes nothing, POST unsubscribes from every kind.
    let link = to("fan@")[0].link("/unsubscribe/").unwrap();
    let anon = app.client();
    let (status, page) = get_html(&anon, &app.url(&link)).await;
    assert_eq!(status, 200);
    assert!(page.contains("Unsubscribe from all"));
    assert!(d.email_prefs(&fan).await.unwrap().new_show, "a GET (a link checker) unsubscribes nobody");
    let r = anon.post(app.url(&link)).body("List-Unsubscribe=One-Click").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("You are unsubscribed"));
    assert_eq!(d.email_prefs(&fan).await.unwrap(), Default::default());
    assert_eq!(anon.get(app.url("/unsubscribe/not-a-token")).send().await.unwrap().status(), 404);

    // Another new show: the unsubscribed fan gets nothing.
    d.create_show(&admin, show(96)).await.unwrap();
    assert_eq!(d.send_follow_emails().await.unwrap(), 0);
    app.stop().await;
}

#[tokio::test]
async fn the_server_runs_the_follow_email_job_only_when_mail_is_configured() {
    let job = |app: &TestApp| {
        let db = app.database().clone();
        async move {
            let runs = db.read(mysetlist::db::jobs::all).await.unwrap();
            runs.into_iter().find(|r| r.job == "follow_emails")
        }
    };
    let smtp = SmtpServer::start();
    let app = spawn_app_with(&env_refs(&smtp.env())).await;
    let run = wait_for(WAIT, || job(&app)).await.expect("follow_emails ran at start");
    assert_eq!(run.last_outcome, Some(JobOutcome::Ok), "{run:?}");
    app.stop().await;

    let app = spawn_app().await;
    wait_for(WAIT, || async {
        let db = app.database().clone();
        let runs = db.read(mysetlist::db::jobs::all).await.unwrap();
        runs.iter().any(|r| r.job == "retention").then_some(())
    })
    .await
    .expect("the standard jobs ran");
    assert!(job(&app).await.is_none(), "no mail, no job");
    app.stop().await;
}

#[tokio::test]
async fn a_follow_email_the_mail_server_refuses_is_not_recorded_and_goes_next_run() {
    let port = free_port().to_string();
    let env = [
        ("MYSETLIST_SMTP__HOST", "127.0.0.1"),
        ("MYSETLIST_SMTP__PORT", port.as_str()),
        ("MYSETLIST_SMTP__TLS", "none"),
        ("MYSETLIST_SMTP__FROM", "noreply@mysetlist.test"),
        ("MYSETLIST_PUBLIC_URL", ORIGIN),
    ];
    let app = spawn_app_with(&env).await;
    let d = app.domain().clone();
    let seeded = app.seed_show(chrono::Duration::hours(10), 1).await;
    let fan = app.user("fan@example.org", Role::User).await;
    d.set_follow(fan.id, seeded.artist_id, true).await.unwrap();
    let prefs = mysetlist::domain::EmailPrefs { voting_closes: true, ..Default::default() };
    d.set_email_prefs(&fan, prefs).await.unwrap();
    assert!(d.send_follow_emails().await.is_err(), "nobody listens on {port}");
    assert_eq!(app.count("SELECT count(*) FROM emails_sent", []), 0, "not recorded: the next run tries again");
    app.stop().await;
}
