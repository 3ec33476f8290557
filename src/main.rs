//! `takeaways`: parse the command line, run it, map the outcome to an exit code.

use clap::Parser;

fn main() {
    let cli = takeaways::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("takeaways: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    match runtime.block_on(takeaways::cli::run(cli)) {
        Ok(()) => {}
        Err(failure) => {
            eprintln!("takeaways: {}", failure.message);
            std::process::exit(failure.code);
        }
    }
}
