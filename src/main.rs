use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    // One TLS provider for the whole process (rustls needs it chosen explicitly).
    let _ = rustls::crypto::ring::default_provider().install_default();
    mysetlist::cli::run(mysetlist::cli::Cli::parse()).await
}
