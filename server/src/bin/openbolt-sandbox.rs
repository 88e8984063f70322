//! `openbolt-sandbox`: starts one command in the sandbox (see `openbolt::sandbox`). The terminals run it
//! for every command, and the page check's browser (`--browser`); it is small, so that it starts in about a millisecond, and does nothing else.

fn main() -> std::process::ExitCode {
    let mut arguments = std::env::args_os().skip(1).peekable();
    // The page check's browser starts through here too (`openbolt::browser::launch`).
    if arguments.peek().is_some_and(|first| first == "--browser") {
        let command: Vec<_> = arguments
            .skip(1)
            .skip_while(|argument| argument == "--")
            .collect();
        let code = openbolt::browser::launch::exec(&command);
        return std::process::ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    let code = match openbolt::sandbox::helper_arguments(arguments) {
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
