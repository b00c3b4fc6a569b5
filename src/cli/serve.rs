//! `mysetlist serve`: the server itself, with Sentry and traces when configured.

use std::net::SocketAddr;
use std::process::ExitCode;

use crate::app::Application;
use crate::config::Config;

pub async fn serve(mut config: Config, demo: bool, listen: Option<SocketAddr>) -> anyhow::Result<ExitCode> {
    crate::app::server::raise_descriptor_limit();
    if let Some(addr) = listen {
        config.listen = addr;
        config.settings.listen = addr.to_string();
    }
    let s = &config.settings;
    let telemetry = crate::telemetry::init_with(s.log.format, &s.log.level, &s.telemetry)?;
    let domain = s.domain.first().cloned();
    let outcome = match Application::build(config, demo).await {
        Ok(app) => {
            // Where to go, on stdout: the one line a newcomer needs (logs go to stderr).
            let open = open_url(app.local_addr(), domain.as_deref());
            println!("MySetlist is running. Open {open}");
            if let Some(path) = app.demo_sign_in() {
                println!(
                    "Demo admin ({}): set its password and sign in once at {}{}",
                    crate::domain::demo::DEMO_ADMIN,
                    open.trim_end_matches('/'),
                    path
                );
            }
            app.run_until(crate::app::stop_signal()).await
        }
        Err(e) => Err(e),
    };
    telemetry.shutdown().await;
    outcome?;
    Ok(ExitCode::SUCCESS)
}

/// The address to open in a browser: the HTTPS domain when one is set, else the bound address (an
/// unspecified one as loopback, which always works on this machine).
fn open_url(bound: SocketAddr, domain: Option<&str>) -> String {
    if let Some(d) = domain {
        return format!("https://{d}/");
    }
    let mut addr = bound;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    format!("http://{addr}/")
}
