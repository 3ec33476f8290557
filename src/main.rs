//! `takeaways`: parse the command line, run it, end the process with the status it returns.

use clap::Parser;
use takeaways::exit::Exit;

fn main() {
    let cli = takeaways::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("takeaways: cannot start the async runtime: {e}");
            Exit::Failed.exit();
        }
    };
    let status = match runtime.block_on(takeaways::cli::run(cli)) {
        Ok(()) => Exit::Ok,
        Err(failure) => {
            eprintln!("takeaways: {}", failure.message);
            failure.exit
        }
    };
    // The runtime's worker threads and the Ctrl-C handler go away before the process does, so
    // a re-raised SIGINT meets the default action.
    drop(runtime);
    status.exit()
}
