use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc's malloc: the request path allocates many small short-lived buffers,
/// where glibc spent ~15% of the CPU (malloc, free, consolidation); see README "Performance".
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    // One TLS provider for the whole process (rustls needs it chosen explicitly).
    let _ = rustls::crypto::ring::default_provider().install_default();
    mysetlist::cli::run(mysetlist::cli::Cli::parse()).await
}
