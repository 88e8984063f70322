//! `openbolt-sandbox`: starts one command in the sandbox (see `openbolt::sandbox`). The terminals run it
//! for every command; it is small, so that it starts in about a millisecond, and does nothing else.

fn main() -> std::process::ExitCode {
    let code = match openbolt::sandbox::helper_arguments(std::env::args_os().skip(1)) {
        Ok(arguments) => openbolt::sandbox::exec(&arguments),
        Err(message) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("openbolt-sandbox: {message}");
            }
            2
        }
    };
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}
